"""`status` / `job status`: the job list and one job's detailed status.

Read-only: GET /v1/jobs, /v1/job/:id and its summary, evaluations,
deployment and allocations.
"""

from __future__ import annotations

from typing import Any

from nomadtui.client import resolve_job

from . import format as fmt
from .alloc_table import alloc_table
from .context import Context, reporting
from .deployment_format import groups_table
from .job_dispatch import parameterized_section
from .job_periodic import next_launch_line
from .metrics import alloc_metric_lines


def job_type_label(job: dict[str, Any]) -> str:
    label = job.get("Type", "")
    if job.get("Periodic"):
        label += "/periodic"
    if job.get("ParameterizedJob"):
        label += "/parameterized"
    return label


def job_status_label(job: dict[str, Any]) -> str:
    status = job.get("Status", "")
    return f"{status} (stopped)" if job.get("Stop") else status


def run_status(ctx: Context) -> int:
    job_arg = getattr(ctx.args, "job", None)
    if job_arg:
        return show_job(ctx, job_arg)
    return list_jobs(ctx)


def list_jobs(ctx: Context) -> int:
    with reporting("Error querying jobs"):
        jobs: list[dict[str, Any]] = ctx.client.jobs().data or []
    if not jobs:
        ctx.out("No running jobs")
        return 0
    all_ns = ctx.client.config.namespace == "*"
    header: list[object] = [
        "ID",
        *(["Namespace"] if all_ns else []),
        "Type",
        "Priority",
        "Status",
        "Submit Date",
    ]
    rows: list[list[object]] = [header]
    for job in jobs:
        rows.append(
            [
                job.get("ID", ""),
                *([job.get("Namespace", "")] if all_ns else []),
                job_type_label(job),
                job.get("Priority", ""),
                job_status_label(job),
                fmt.format_unix_nano(job.get("SubmitTime")),
            ]
        )
    ctx.out(fmt.columnize(rows))
    return 0


def is_periodic(job: dict[str, Any]) -> bool:
    periodic: Any = job.get("Periodic")
    return bool(periodic) and (periodic is True or periodic.get("Enabled", True) is not False)


def is_parameterized(job: dict[str, Any]) -> bool:
    return bool(job.get("ParameterizedJob")) and not job.get("Dispatched")


def show_job(ctx: Context, prefix: str) -> int:
    client = ctx.client
    with reporting("Error querying job"):
        stub = resolve_job(client, prefix)
        job_id, ns = stub["ID"], stub.get("Namespace")
        job: dict[str, Any] = client.job(job_id, namespace=ns).data or {}
    ctx.out(
        fmt.kv(
            [
                ("ID", job.get("ID", "")),
                ("Name", job.get("Name", "")),
                ("Submit Date", fmt.format_unix_nano(job.get("SubmitTime"))),
                ("Type", job.get("Type", "")),
                ("Priority", job.get("Priority", "")),
                ("Datacenters", ",".join(job.get("Datacenters") or [])),
                ("Namespace", job.get("Namespace", "")),
                ("Node Pool", job.get("NodePool", "")),
                ("Status", job_status_label(job)),
                ("Periodic", str(is_periodic(job)).lower()),
                ("Parameterized", str(is_parameterized(job)).lower()),
                *_next_launch(ctx, job),
            ]
        )
    )
    if getattr(ctx.args, "short", False):
        return 0
    if is_parameterized(job):
        parameterized_section(ctx, job)
    with reporting("Error querying job"):
        summary = client.job_summary(job_id, namespace=ns).data or {}
        evals: list[dict[str, Any]] = client.job_evaluations(job_id, namespace=ns).data or []
        deployment = client.job_deployment(job_id, namespace=ns).data
        allocs: list[dict[str, Any]] = client.job_allocations(job_id, namespace=ns).data or []
    if is_periodic(job) or is_parameterized(job):
        _children(ctx, job, summary)
    else:
        _summary(ctx, summary)
    if ctx.verbose or getattr(ctx.args, "evals", False):
        _evaluations(ctx, evals)
    _placement_failures(ctx, evals)
    _future_reschedules(ctx, evals, allocs)
    if deployment and not (is_periodic(job) or is_parameterized(job)):
        _deployment(ctx, deployment)
    if is_periodic(job) or is_parameterized(job):
        return 0
    ctx.title("Allocations")
    ctx.out(alloc_table(ctx, allocs) if allocs else "No allocations placed")
    return 0


def _next_launch(ctx: Context, job: dict[str, Any]) -> list[tuple[str, object]]:
    if not is_periodic(job) or is_parameterized(job):
        return []
    line = next_launch_line(job, ctx.now())
    return [("Next Periodic Launch", line)] if line else []


def _summary(ctx: Context, summary: dict[str, Any]) -> None:
    groups: dict[str, dict[str, Any]] = summary.get("Summary") or {}
    rows: list[list[object]] = [
        ["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown"]
    ]
    for name, tg in sorted(groups.items()):
        rows.append(
            [name]
            + [
                tg.get(k, 0)
                for k in ("Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown")
            ]
        )
    ctx.title("Summary")
    ctx.out(fmt.columnize(rows))


def _children(ctx: Context, job: dict[str, Any], summary: dict[str, Any]) -> None:
    children = summary.get("Children") or {}
    periodic = is_periodic(job)
    ctx.title("Children Job Summary" if periodic else "Parameterized Job Summary")
    ctx.out(
        fmt.columnize(
            [
                ["Pending", "Running", "Dead"],
                [children.get("Pending", 0), children.get("Running", 0), children.get("Dead", 0)],
            ]
        )
    )
    with reporting("Error querying job"):
        listed: list[dict[str, Any]] = ctx.client.jobs(prefix=f"{job['ID']}/").data or []
    kids = [j for j in listed if j.get("ParentID") == job.get("ID")]
    ctx.title("Previously Launched Jobs" if periodic else "Dispatched Jobs")
    if not kids:
        ctx.out(
            "No instances of periodic job found"
            if periodic
            else "No dispatched instances of parameterized job found"
        )
        return
    rows: list[list[object]] = [["ID", "Status"]]
    rows += [[j.get("ID", ""), j.get("Status", "")] for j in kids]
    ctx.out(fmt.columnize(rows))


def _evaluations(ctx: Context, evals: list[dict[str, Any]]) -> None:
    rows: list[list[object]] = [["ID", "Priority", "Triggered By", "Status", "Placement Failures"]]
    for ev in sorted(evals, key=lambda e: int(e.get("CreateIndex") or 0), reverse=True):
        if ev.get("Status") == "blocked":
            failures = "N/A - In Progress"
        else:
            failures = str(bool(ev.get("FailedTGAllocs"))).lower()
        rows.append(
            [
                ctx.short(ev.get("ID", "")),
                ev.get("Priority", ""),
                ev.get("TriggeredBy", ""),
                ev.get("Status", ""),
                failures,
            ]
        )
    ctx.title("Evaluations")
    ctx.out(fmt.columnize(rows))


def _placement_failures(ctx: Context, evals: list[dict[str, Any]]) -> None:
    blocked = any(e.get("Status") == "blocked" for e in evals)
    failing = [e for e in evals if e.get("FailedTGAllocs")]
    if not (blocked and failing):
        return
    latest = max(failing, key=lambda e: int(e.get("CreateIndex") or 0))
    ctx.title("Placement Failure")
    groups = sorted(latest["FailedTGAllocs"].items())
    for i, (name, metric) in enumerate(groups):
        ctx.out(f'Task Group "{name}":')
        for line in alloc_metric_lines(metric):
            ctx.out(line)
        if i != len(groups) - 1:
            ctx.out()


def _future_reschedules(
    ctx: Context, evals: list[dict[str, Any]], allocs: list[dict[str, Any]]
) -> None:
    now = ctx.now()
    group_of = {a.get("FollowupEvalID"): a.get("TaskGroup", "") for a in allocs}
    rows: list[list[object]] = [["Task Group", "Eval ID", "Eval Time"]]
    for ev in evals:
        wait_until = fmt.from_rfc3339(ev.get("WaitUntil"))
        if ev.get("Status") != "pending" or wait_until is None or wait_until <= now:
            continue
        rows.append(
            [
                group_of.get(ev.get("ID"), ""),
                ctx.short(ev.get("ID", "")),
                fmt.pretty_time_diff(wait_until, now),
            ]
        )
    if len(rows) > 1:
        ctx.title("Future Rescheduling Attempts")
        ctx.out(fmt.columnize(rows))


def _deployment(ctx: Context, deployment: dict[str, Any]) -> None:
    ctx.title("Latest Deployment")
    ctx.out(
        fmt.kv(
            [
                ("ID", ctx.short(deployment.get("ID", ""))),
                ("Status", deployment.get("Status", "")),
                ("Description", deployment.get("StatusDescription", "")),
            ]
        )
    )
    if deployment.get("TaskGroups"):
        ctx.out()
        ctx.out(fmt.bold("Deployed", ctx.color))
        ctx.out(groups_table(deployment))
