"""`job history` and `job revert`: a job's stored versions and going back to one.

History reads GET /v1/job/:id/versions (with diffs for `-p`); revert sends
PUT /v1/job/:id/revert, which registers the old spec as a new version, and
follows it like `job run`.
"""

from __future__ import annotations

import json
from typing import Any

from nomadtui.client import resolve_job

from . import format as fmt
from .context import CommandError, Context, reporting
from .monitor import EXIT_OK, EvalMonitor


def run_job_history(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client
    with reporting("Error querying job"):
        stub = resolve_job(client, args.job)
    with reporting("Error retrieving job versions"):
        data: dict[str, Any] = (
            client.job_versions(stub["ID"], diffs=args.p, namespace=stub.get("Namespace")).data
            or {}
        )
    versions: list[dict[str, Any]] = data.get("Versions") or []
    diffs: list[dict[str, Any]] = data.get("Diffs") or []
    if diffs and len(versions) != len(diffs) + 1:
        raise CommandError(
            f"Error: Number of job versions {len(versions)} doesn't match number of "
            f"diffs {len(diffs)}"
        )
    # Diffs[i] is what changed from Versions[i+1] (older) to Versions[i].
    entries = [(v, diffs[i] if i < len(diffs) else None) for i, v in enumerate(versions)]
    if args.version is not None:
        entries = [(v, d) for v, d in entries if v.get("Version") == args.version]
        if not entries:
            raise CommandError("Error printing job history for non-existing job or job version")
    ctx.out("\n\n".join(format_version(v, d, args.full) for v, d in entries))
    return EXIT_OK


def format_version(job: dict[str, Any], diff: dict[str, Any] | None, full: bool) -> str:
    """Nomad's k/v block; `Diff` and `Full` values start on the next line."""
    pairs: list[tuple[str, str]] = [
        ("Version", str(job.get("Version", 0))),
        ("Stable", "true" if job.get("Stable") else "false"),
        ("Submit Date", fmt.format_unix_nano(job.get("SubmitTime"))),
    ]
    if diff is not None:
        # Imported here: the diff renderer belongs to `job plan`'s module.
        from .plan_render import render_diff

        pairs.append(("Diff", "\n" + render_diff(diff, False).strip()))
    if full:
        pairs.append(("Full", "JSON Job:\n" + json.dumps(job, indent=4)))
    width = max(len(k) for k, _ in pairs)
    lines = []
    for key, value in pairs:
        head, newline, rest = value.partition("\n")
        lines.append(f"{key.ljust(width)} = {head}".rstrip() + newline + rest)
    return "\n".join(lines)


def run_job_revert(ctx: Context) -> int:
    args = ctx.args
    try:
        version = int(args.version)
    except ValueError as err:
        raise CommandError(f'Error: version must be a number, got "{args.version}"') from err
    if version < 0:
        raise CommandError(f'Error: version must not be negative, got "{args.version}"')
    client = ctx.client
    with reporting("Error querying job"):
        stub = resolve_job(client, args.job)
    job_id, ns = stub["ID"], stub.get("Namespace")
    with reporting("Error reverting job"):
        result: dict[str, Any] = client.revert_job(job_id, version, namespace=ns).data or {}
    eval_id = result.get("EvalID") or ""
    if not eval_id:
        return EXIT_OK
    if args.detach:
        ctx.out(f"Evaluation ID: {eval_id}")
        return EXIT_OK
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id, job_id, ns)
