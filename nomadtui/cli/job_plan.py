"""`job plan`: a scheduler dry-run of a local job file against the cluster.

Parses the file locally, sends it to PUT /v1/job/:id/plan and prints what
`plan_render` makes of the answer. Never registers anything. Exit codes are
Nomad's: 0 nothing created or destroyed, 1 allocations would change, 255 error.
"""

from __future__ import annotations

from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import one_line

from .context import CommandError, Context
from .job import parse_job_file

EXIT_PLAN_ERROR = 255


def run_job_plan(ctx: Context) -> int:
    args = ctx.args
    try:
        job, _ = parse_job_file(ctx, args.file)
    except CommandError as err:
        raise CommandError(err.message, EXIT_PLAN_ERROR) from err
    try:
        resp: dict[str, Any] = ctx.client.plan_job(job, diff=args.diff).data or {}
    except NomadError as err:  # unreachable agent included
        raise CommandError(f"Error during plan: {one_line(str(err))}", EXIT_PLAN_ERROR) from err
    # Imported here: the renderer is a sibling module with its own owner.
    from .plan_render import render_plan

    text, code = render_plan(
        resp,
        args.file,
        verbose=ctx.verbose,
        diff=args.diff,
        job_type=str(job.get("Type") or "service"),
        now=ctx.now(),
    )
    ctx.runtime.stdout.write(text if text.endswith("\n") else text + "\n")
    ctx.runtime.stdout.flush()
    return code
