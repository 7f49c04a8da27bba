"""`alloc status`: one allocation, its tasks, resources and recent events
(GET /v1/allocations?prefix= and /v1/allocation/:id); and the allocation
actions `alloc restart`, `alloc signal` (the client endpoints, answered by
the agent running the allocation) and `alloc stop` (stop and replace).
"""

from __future__ import annotations

from typing import Any

from nomadtui.client import resolve_alloc

from . import format as fmt
from .context import CommandError, Context, reporting
from .events import describe_event
from .monitor import EvalMonitor


def fetch_alloc(ctx: Context, prefix: str) -> dict[str, Any]:
    client = ctx.client
    with reporting("Error querying allocation"):
        stub = resolve_alloc(client, prefix)
        alloc: dict[str, Any] = client.allocation(stub["ID"]).data or {}
    return alloc


def _when(ctx: Context, ns: int | None) -> str:
    return fmt.format_unix_nano(ns) if ctx.verbose else ctx.ago(ns)


def _health(status: dict[str, Any]) -> str:
    healthy = status.get("Healthy")
    if healthy is None:
        return "unset"
    return "healthy" if healthy else "unhealthy"


def _group(alloc: dict[str, Any]) -> dict[str, Any]:
    for tg in (alloc.get("Job") or {}).get("TaskGroups") or []:
        if tg.get("Name") == alloc.get("TaskGroup"):
            return dict(tg)
    return {}


def task_names(alloc: dict[str, Any]) -> list[str]:
    names = {t.get("Name", "") for t in _group(alloc).get("Tasks") or []}
    names |= set((alloc.get("TaskStates") or {}).keys())
    return sorted(n for n in names if n)


def run_alloc_status(ctx: Context) -> int:
    alloc = fetch_alloc(ctx, ctx.args.alloc)
    pairs: list[tuple[str, object]] = [
        ("ID", ctx.short(alloc.get("ID", ""))),
        ("Eval ID", ctx.short(alloc.get("EvalID", ""))),
        ("Name", alloc.get("Name", "")),
        ("Node ID", ctx.short(alloc.get("NodeID", ""))),
        ("Node Name", alloc.get("NodeName", "")),
        ("Job ID", alloc.get("JobID", "")),
        ("Job Version", (alloc.get("Job") or {}).get("Version", "")),
        ("Client Status", alloc.get("ClientStatus", "")),
        ("Client Description", alloc.get("ClientDescription", "")),
        ("Desired Status", alloc.get("DesiredStatus", "")),
        ("Desired Description", alloc.get("DesiredDescription", "")),
        ("Created", _when(ctx, alloc.get("CreateTime"))),
        ("Modified", _when(ctx, alloc.get("ModifyTime"))),
    ]
    if alloc.get("DeploymentID"):
        pairs.append(("Deployment ID", ctx.short(alloc["DeploymentID"])))
    dstatus = alloc.get("DeploymentStatus")
    if dstatus:
        pairs.append(("Deployment Health", _health(dstatus)))
        if dstatus.get("Canary"):
            pairs.append(("Canary", "true"))
    events = ((alloc.get("RescheduleTracker") or {}).get("Events")) or []
    if events:
        attempts = (_group(alloc).get("ReschedulePolicy") or {}).get("Attempts", 0)
        pairs.append(("Reschedule Attempts", f"{len(events)}/{attempts}"))
    if alloc.get("NextAllocation"):
        pairs.append(("Replacement Alloc ID", ctx.short(alloc["NextAllocation"])))
    ctx.out(fmt.kv(pairs))
    if ctx.verbose and alloc.get("Metrics"):
        _placement_metrics(ctx, alloc["Metrics"])
    if getattr(ctx.args, "short", False):
        _task_summary(ctx, alloc)
        return 0
    for name in task_names(alloc):
        _task_detail(ctx, alloc, name)
    return 0


def _placement_metrics(ctx: Context, metrics: dict[str, Any]) -> None:
    ctx.title("Placement Metrics")
    rows: list[list[object]] = [["Node", "Score"]]
    for meta in metrics.get("ScoreMetaData") or []:
        rows.append([ctx.short(meta.get("NodeID", "")), f"{meta.get('NormScore', 0):.3g}"])
    ctx.out(fmt.columnize(rows) if len(rows) > 1 else "No placement metrics")


def _task_summary(ctx: Context, alloc: dict[str, Any]) -> None:
    states: dict[str, Any] = alloc.get("TaskStates") or {}
    rows: list[list[object]] = [["Name", "State", "Last Event", "Time", "Lifecycle"]]
    lifecycle = {t.get("Name"): t.get("Lifecycle") for t in _group(alloc).get("Tasks") or []}
    for name in task_names(alloc):
        state = states.get(name) or {}
        events = state.get("Events") or []
        last = events[-1] if events else {}
        hook = lifecycle.get(name) or {}
        kind = "main"
        if hook.get("Hook"):
            kind = hook["Hook"] + (" sidecar" if hook.get("Sidecar") else "")
        rows.append(
            [
                name,
                state.get("State", ""),
                last.get("Type", ""),
                fmt.format_unix_nano(last.get("Time")),
                kind,
            ]
        )
    ctx.title("Tasks")
    ctx.out(fmt.columnize(rows))


def _addresses(alloc: dict[str, Any], task: str) -> str:
    res = alloc.get("AllocatedResources") or {}
    found: list[str] = []
    for port in (res.get("Shared") or {}).get("Ports") or []:
        found.append(f"{port.get('Label', '')}: {port.get('HostIP', '')}:{port.get('Value', '')}")
    task_res = (res.get("Tasks") or {}).get(task) or {}
    for net in task_res.get("Networks") or []:
        for port in (net.get("ReservedPorts") or []) + (net.get("DynamicPorts") or []):
            found.append(f"{port.get('Label', '')}: {net.get('IP', '')}:{port.get('Value', '')}")
    return "\n".join(found)


def _task_detail(ctx: Context, alloc: dict[str, Any], name: str) -> None:
    state: dict[str, Any] = (alloc.get("TaskStates") or {}).get(name) or {}
    ctx.title(f'Task "{name}" is "{state.get("State", "pending")}"')
    res = alloc.get("AllocatedResources") or {}
    task_res = (res.get("Tasks") or {}).get(name) or {}
    cpu = int((task_res.get("Cpu") or {}).get("CpuShares") or 0)
    mem = int((task_res.get("Memory") or {}).get("MemoryMB") or 0)
    disk = int((res.get("Shared") or {}).get("DiskMB") or 0)
    addresses = _addresses(alloc, name).split("\n")
    ctx.out("Task Resources:")
    rows: list[list[object]] = [["CPU", "Memory", "Disk", "Addresses"]]
    rows.append([f"{cpu} MHz", fmt.megabytes(mem), fmt.megabytes(disk), addresses[0]])
    rows += [[None, None, None, extra] for extra in addresses[1:]]
    ctx.out(fmt.columnize(rows))
    ctx.out()
    ctx.out("Task Events:")
    ctx.out(
        fmt.kv(
            [
                ("Started At", _task_time(state.get("StartedAt"))),
                ("Finished At", _task_time(state.get("FinishedAt"))),
                ("Total Restarts", state.get("Restarts", 0)),
                ("Last Restart", _task_time(state.get("LastRestart"))),
            ]
        )
    )
    ctx.out()
    ctx.out("Recent Events:")
    events = sorted(state.get("Events") or [], key=lambda e: int(e.get("Time") or 0), reverse=True)
    table_rows: list[list[object]] = [["Time", "Type", "Description"]]
    for ev in events:
        table_rows.append(
            [fmt.format_unix_nano(ev.get("Time")), ev.get("Type", ""), describe_event(ev)]
        )
    ctx.out(fmt.columnize(table_rows))


def _task_time(value: str | None) -> str:
    moment = fmt.from_rfc3339(value)
    return fmt.format_datetime(moment) if moment else "N/A"


# ---- alloc restart | signal | stop ----------------------------------------


def _named_task(ctx: Context, alloc: dict[str, Any]) -> str:
    """-task wins over the positional task; it must be a task of the group."""
    task: str = getattr(ctx.args, "task_flag", None) or getattr(ctx.args, "task", None) or ""
    if task:
        names = [t.get("Name", "") for t in _group(alloc).get("Tasks") or []]
        if names and task not in names:
            raise CommandError(
                f"Error: Could not find task named: {task}, found: {', '.join(names)}"
            )
    return task


def run_alloc_restart(ctx: Context) -> int:
    """PUT /v1/client/allocation/:id/restart; prints nothing on success."""
    alloc = fetch_alloc(ctx, ctx.args.alloc)
    task = _named_task(ctx, alloc)
    if ctx.args.all_tasks and task:
        raise CommandError(
            "Error: The -all-tasks option is not allowed when restarting a specific task."
        )
    body: dict[str, Any] = {"TaskName": task, "AllTasks": bool(ctx.args.all_tasks)}
    with reporting(f"Failed to restart {'task' if task else 'allocation'}"):
        ctx.client.put(f"/v1/client/allocation/{alloc['ID']}/restart", body)
    return 0


def run_alloc_signal(ctx: Context) -> int:
    """PUT /v1/client/allocation/:id/signal (default SIGKILL, as Nomad)."""
    alloc = fetch_alloc(ctx, ctx.args.alloc)
    task = _named_task(ctx, alloc)
    body = {"Signal": ctx.args.signal or "SIGKILL", "Task": task}
    with reporting("Error signalling allocation"):
        ctx.client.put(f"/v1/client/allocation/{alloc['ID']}/signal", body)
    return 0


def run_alloc_stop(ctx: Context) -> int:
    """PUT /v1/allocation/:id/stop: the servers stop the allocation and place a
    replacement (a migration); then the evaluation monitor, unless -detach."""
    alloc = fetch_alloc(ctx, ctx.args.alloc)
    params = {"no_shutdown_delay": "true"} if ctx.args.no_shutdown_delay else None
    with reporting("Error stopping allocation"):
        resp = ctx.client.put(f"/v1/allocation/{alloc['ID']}/stop", None, params)
    eval_id = str((resp.data or {}).get("EvalID", ""))
    if ctx.args.detach:
        ctx.out(eval_id)
        return 0
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id)
