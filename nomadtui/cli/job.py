"""`job run | stop | init | validate | inspect`: job lifecycle commands.

Job files are parsed locally with `controlplane.jobspec` (no server round
trip), registered over HTTP, and followed with the evaluation monitor (and
the deployment monitor when the new version rolls out with a deployment).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import one_line, resolve_job

from .context import CommandError, Context, reporting
from .monitor import EXIT_OK, EvalMonitor
from .status import is_parameterized, is_periodic

DEFAULT_INIT_FILE = "example.nomad"


def parse_job_file(ctx: Context, path: str) -> tuple[dict[str, Any], str]:
    """The job as an API dict, and the source text (for the Submission)."""
    text = ctx.read_input(path, f'Error reading job file "{path}"')
    from controlplane import jobspec
    from controlplane.structs import to_builtins

    parse = getattr(jobspec, "parse_job", None)
    if parse is None:
        raise CommandError("Error parsing job file: controlplane.jobspec.parse_job is unavailable")
    try:
        job = parse(text, "<stdin>" if path == "-" else path)
    except NomadError as err:
        raise CommandError(f"Error parsing job file {err}") from err
    data = job if isinstance(job, dict) else to_builtins(job)
    return data, text


def _submission(path: str, text: str) -> dict[str, Any]:
    is_json = path.endswith(".json") or text.lstrip().startswith("{")
    return {"Source": text, "Format": "json" if is_json else "hcl2"}


_ENFORCE_INDEX = re.compile(r"Enforcing job modify index[^\n;]*")


def check_index_conflict(err: NomadError) -> CommandError | None:
    """Nomad's two lines for a `-check-index` mismatch, whether the server says
    409 (ours) or 500 (Nomad): the server's sentence, then `Job not updated`."""
    match = _ENFORCE_INDEX.search(one_line(str(err)))
    if match is None:
        return None
    return CommandError(f"{match.group(0).rstrip(') ')}\nJob not updated")


def run_job_run(ctx: Context) -> int:
    args = ctx.args
    job, text = parse_job_file(ctx, args.file)
    check_index: int | None = args.check_index
    with reporting("Error submitting job"):
        try:
            resp = ctx.client.register_job(
                job, enforce_index=check_index, submission=_submission(args.file, text)
            )
        except NomadError as err:
            conflict = check_index_conflict(err)
            if conflict is None:
                raise
            raise conflict from err
    result: dict[str, Any] = resp.data or {}
    warnings = (result.get("Warnings") or "").strip()
    if warnings:
        ctx.out(f"Job Warnings:\n{warnings}\n")
    eval_id = result.get("EvalID", "")
    if args.detach or is_periodic(job) or is_parameterized(job):
        ctx.out("Job registration successful")
        if eval_id and not is_parameterized(job) and not is_periodic(job):
            ctx.out(f"Evaluation ID: {eval_id}")
        return EXIT_OK
    if not eval_id:
        return EXIT_OK
    namespace = ctx.client.config.namespace or job.get("Namespace")
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id, job.get("ID"), namespace)


def _confirm(ctx: Context, question: str) -> bool:
    ctx.runtime.stdout.write(f"{question} [y/N]: ")
    ctx.runtime.stdout.flush()
    answer = ctx.runtime.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def run_job_stop(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client
    with reporting("Error deregistering job"):
        stub = resolve_job(client, args.job)
    job_id, ns = stub["ID"], stub.get("Namespace")
    # Only a prefix that resolved to another ID needs confirming.
    asked = job_id != args.job and not args.yes
    if asked and not _confirm(ctx, f'Are you sure you want to stop job "{job_id}"?'):
        ctx.out("Cancelling job stop")
        return EXIT_OK
    with reporting("Error deregistering job"):
        result: dict[str, Any] = client.deregister_job(job_id, args.purge, namespace=ns).data or {}
    eval_id = result.get("EvalID", "")
    if args.detach:
        ctx.out(eval_id)
        return EXIT_OK
    if not eval_id:
        return EXIT_OK
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id)


def run_job_init(ctx: Context) -> int:
    args = ctx.args
    path: str = args.file or DEFAULT_INIT_FILE
    if os.path.exists(path):
        raise CommandError(f"Job '{path}' already exists")
    from controlplane import jobspec

    template = getattr(jobspec, "init_template", None)
    if template is None:
        raise CommandError("Error: job templates are unavailable (controlplane.jobspec)")
    content: str = template(args.short)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(content)
    except OSError as err:
        raise CommandError(f"Failed to write '{path}': {err.strerror or err}") from err
    ctx.out(f"Example job file written to {path}")
    return EXIT_OK


def run_job_validate(ctx: Context) -> int:
    parse_job_file(ctx, ctx.args.file)
    ctx.out("Job validation successful")
    return EXIT_OK


def run_job_inspect(ctx: Context) -> int:
    client = ctx.client
    with reporting("Error inspecting job"):
        stub = resolve_job(client, ctx.args.job)
        job = client.job(stub["ID"], namespace=stub.get("Namespace")).data
    json.dump({"Job": job}, ctx.runtime.stdout, indent=4, sort_keys=False)
    ctx.out()
    return EXIT_OK
