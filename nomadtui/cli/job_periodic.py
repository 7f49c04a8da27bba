"""`job periodic force JOB` and the periodic lines of `job status`.

Force: POST /v1/job/:id/periodic/force, then the evaluation monitor (unless
`-detach`). `Next Periodic Launch` is computed here from the job's cron
specs and time zone, as Nomad's CLI does (controlplane.structs.cron is the
shared pure parser).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlplane.errors import NotFound
from controlplane.structs.cron import CronError, next_launch

from . import format as fmt
from .context import Context, reporting
from .monitor import EXIT_OK, EvalMonitor
from .parsing import Tree, flag


def resolve_kind(ctx: Context, prefix: str, field: str, kind: str) -> dict[str, Any]:
    """The job stub `prefix` names among jobs whose stub flag `field` is set
    (periodic / parameterized parents); an exact ID wins."""
    jobs: list[dict[str, Any]] = ctx.client.jobs(prefix=prefix).data or []
    found = [j for j in jobs if j.get(field)]
    exact = [j for j in found if j.get("ID") == prefix]
    if exact:
        return exact[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f'No {kind} job(s) with prefix or ID "{prefix}" found')
    listed = ", ".join(str(j.get("ID")) for j in found)
    raise NotFound(f'Prefix "{prefix}" matched multiple {kind} jobs: {listed}')


def run_job_periodic_force(ctx: Context) -> int:
    args = ctx.args
    with reporting("Error querying job"):
        stub = resolve_kind(ctx, args.job, "Periodic", "periodic")
    job_id, ns = str(stub["ID"]), stub.get("Namespace")
    with reporting(f'Error forcing periodic job "{job_id}"'):
        resp = ctx.client.put(
            f"/v1/job/{job_id}/periodic/force", None, {"namespace": ns} if ns else None
        )
    eval_id = str((resp.data or {}).get("EvalID", ""))
    if args.detach:
        ctx.out("Force periodic successful")
        ctx.out(f"Evaluation ID: {eval_id}")
        return EXIT_OK
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id, None, ns)


def next_launch_line(job: dict[str, Any], now: datetime) -> str | None:
    """`<time> (<duration> from now)` in the job's zone; None if it has none."""
    if job.get("Stop"):
        return "none (job stopped)"
    periodic = job.get("Periodic") or {}
    specs = list(periodic.get("Specs") or []) or [periodic.get("Spec") or ""]
    try:
        nxt = next_launch([s for s in specs if s], now, periodic.get("TimeZone") or "UTC")
    except CronError:
        return None
    if nxt is None:
        return None
    when = nxt.isoformat().replace("+00:00", "Z")
    wait_ns = round(nxt.timestamp() - now.timestamp()) * 1_000_000_000
    return f"{when} ({fmt.go_duration(wait_ns)} from now)"


def add_commands(tree: Tree, jobs: Any) -> None:
    periodic = tree.group(jobs, "periodic", "periodic job commands: force")
    p = tree.command(
        periodic,
        "force",
        "launch a periodic job now",
        run_job_periodic_force,
        "Launch a child of periodic job JOB now, even if that violates its\n"
        "prohibit_overlap setting, and monitor its evaluation.",
    )
    flag(p, "detach", action="store_true", help="print the evaluation ID and exit")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("job", help="periodic job ID or prefix")
