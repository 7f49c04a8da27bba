"""`job scale JOB [GROUP] COUNT`: change one task group's count.

Sends PUT /v1/job/:id/scale with Nomad's CLI message, then follows the
evaluation and the deployment it starts (unless `-detach`).
"""

from __future__ import annotations

from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import resolve_job

from .context import CommandError, Context, reporting
from .job import check_index_conflict
from .monitor import EXIT_OK, EvalMonitor

SCALE_MESSAGE = "submitted using the Nomad CLI"


def _group_and_count(values: list[str]) -> tuple[str | None, int]:
    if len(values) not in (1, 2):
        raise CommandError("Error: job scale takes JOB [GROUP] COUNT")
    group = values[0] if len(values) == 2 else None
    try:
        count = int(values[-1])
    except ValueError as err:
        raise CommandError(f'Error: count must be an integer, got "{values[-1]}"') from err
    return group, count


def pick_group(job: dict[str, Any], group: str | None) -> str:
    """The group to scale: the one named, or the job's only group."""
    names = [str(tg.get("Name", "")) for tg in job.get("TaskGroups") or []]
    if group is None:
        if len(names) == 1:
            return names[0]
        listed = ", ".join(f'"{n}"' for n in sorted(names))
        raise CommandError(
            f'Error: Group name required: job "{job.get("ID", "")}" has '
            f"{len(names)} task groups ({listed})"
        )
    if group not in names:
        raise CommandError(f'Error: Group "{group}" not found within job "{job.get("ID", "")}"')
    return group


def run_job_scale(ctx: Context) -> int:
    args = ctx.args
    group_arg, count = _group_and_count(args.target)
    client = ctx.client
    with reporting("Error querying job"):
        stub = resolve_job(client, args.job)
        job_id, ns = stub["ID"], stub.get("Namespace")
        job: dict[str, Any] = client.job(job_id, namespace=ns).data or {}
    group = pick_group(job, group_arg)
    with reporting("Error submitting scaling request"):
        try:
            resp = client.scale_job(
                job_id, group, count, SCALE_MESSAGE, enforce_index=args.check_index, namespace=ns
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
    ctx.out("Job scale successful")
    eval_id = result.get("EvalID") or ""
    if args.detach:
        ctx.out(f"Evaluation ID: {eval_id}")
        return EXIT_OK
    if not eval_id:
        return EXIT_OK
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id, job_id, ns)
