"""How an allocation reads on screen: key facts, task rows, task events, ports.

Pure functions from the API's Allocation JSON (API.md §3.9) to Rich text
and table rows; no widgets, no I/O. The time `now` is passed in so the
relative times are testable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from nomadtui.cli.alloc import task_names
from nomadtui.cli.events import describe_event
from nomadtui.cli.format import from_rfc3339, from_unix_nano, megabytes, pretty_time_diff

from ..widgets.resource_table import Row

CLIENT_STYLE = {"running": "green", "pending": "yellow", "complete": "dim",
                "failed": "red", "lost": "red", "unknown": "magenta"}
TASK_STYLE = {"running": "green", "pending": "yellow", "dead": "dim"}
KEY_WIDTH = 10


def client_status(alloc: dict[str, Any]) -> Text:
    status = str(alloc.get("ClientStatus", ""))
    return Text(status, style=CLIENT_STYLE.get(status, ""))


def desired_status(alloc: dict[str, Any]) -> Text:
    status = str(alloc.get("DesiredStatus", ""))
    return Text(status, style="" if status == "run" else "yellow")


def ports(alloc: dict[str, Any]) -> list[str]:
    """`label: ip:port` for the allocation's shared ports (and legacy task networks)."""
    res = alloc.get("AllocatedResources") or {}
    found = [
        f"{p.get('Label', '')}: {p.get('HostIP', '')}:{p.get('Value', '')}"
        for p in (res.get("Shared") or {}).get("Ports") or []
    ]
    for task in (res.get("Tasks") or {}).values():
        for net in (task or {}).get("Networks") or []:
            for p in (net.get("ReservedPorts") or []) + (net.get("DynamicPorts") or []):
                label = f"{p.get('Label', '')}: {net.get('IP', '')}:{p.get('Value', '')}"
                if label not in found:
                    found.append(label)
    return found


def task_resources(alloc: dict[str, Any], task: str) -> tuple[int, int]:
    """(CPU MHz, memory MB) allocated to `task`."""
    tasks = (alloc.get("AllocatedResources") or {}).get("Tasks") or {}
    res = tasks.get(task) or {}
    return (int((res.get("Cpu") or {}).get("CpuShares") or 0),
            int((res.get("Memory") or {}).get("MemoryMB") or 0))


def _health(alloc: dict[str, Any]) -> Text:
    status = alloc.get("DeploymentStatus") or {}
    healthy = status.get("Healthy")
    if not alloc.get("DeploymentID") and not status:
        return Text("-", style="dim")
    text = Text()
    if healthy is None:
        text.append("unset", style="yellow")
    else:
        text.append("healthy" if healthy else "unhealthy", style="green" if healthy else "red")
    if status.get("Canary"):
        text.append("  canary", style="bold magenta")
    if alloc.get("DeploymentID"):
        text.append(f"  {str(alloc['DeploymentID'])[:8]}", style="dim")
    return text


def _line(key: str, *values: Text | str) -> Text:
    line = Text(key.ljust(KEY_WIDTH), style="bold")
    for i, value in enumerate(values):
        if i:
            line.append("  ")
        line.append(value)
    return line


def facts(alloc: dict[str, Any], now: datetime) -> tuple[Text, Text]:
    """Two columns of `key value` lines (left: identity, right: status)."""
    job = alloc.get("Job") or {}
    version = job.get("Version", alloc.get("JobVersion", ""))
    created = pretty_time_diff(from_unix_nano(alloc.get("CreateTime")), now)
    modified = pretty_time_diff(from_unix_nano(alloc.get("ModifyTime")), now)
    node = f"{alloc.get('NodeName') or '-'} ({str(alloc.get('NodeID', ''))[:8]})"
    left = Text("\n").join([
        _line("ID", str(alloc.get("ID", ""))[:8], Text(str(alloc.get("Name", "")), "dim")),
        _line("Job", f"{alloc.get('JobID', '')} v{version}",
              f"group {alloc.get('TaskGroup', '')}"),
        _line("Node", node),
        _line("Created", created, f"modified {modified}"),
        _line("Ports", ", ".join(ports(alloc)) or Text("-", style="dim")),
    ])
    cpu = mem = 0
    for name in task_names(alloc):
        c, m = task_resources(alloc, name)
        cpu, mem = cpu + c, mem + m
    disk = int(((alloc.get("AllocatedResources") or {}).get("Shared") or {}).get("DiskMB") or 0)
    right_lines = [
        _line("Client", client_status(alloc),
              Text(str(alloc.get("ClientDescription", "")), "dim")),
        _line("Desired", desired_status(alloc),
              Text(str(alloc.get("DesiredDescription", "")), "dim")),
        _line("Deploy", _health(alloc)),
        _line("Resources", f"{cpu} MHz", megabytes(mem), f"disk {megabytes(disk)}"),
    ]
    tracker = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    if alloc.get("NextAllocation") or tracker:
        extra = [f"{len(tracker)} reschedule(s)"] if tracker else []
        if alloc.get("NextAllocation"):
            extra.append(f"replaced by {str(alloc['NextAllocation'])[:8]}")
        right_lines.append(_line("Resched", *extra))
    return left, Text("\n").join(right_lines)


def _last_event(state: dict[str, Any]) -> dict[str, Any]:
    events = state.get("Events") or []
    return max(events, key=lambda e: int(e.get("Time") or 0)) if events else {}


def task_rows(alloc: dict[str, Any], now: datetime) -> list[Row]:
    states: dict[str, Any] = alloc.get("TaskStates") or {}
    rows: list[Row] = []
    for name in task_names(alloc):
        state = states.get(name) or {}
        status = str(state.get("State") or "pending")
        label = Text(status, style=TASK_STYLE.get(status, ""))
        if state.get("Failed"):
            label = Text(f"{status} (failed)", style="red")
        last = _last_event(state)
        since = from_rfc3339(state.get("StartedAt")) if status == "running" else \
            from_rfc3339(state.get("FinishedAt"))
        cpu, mem = task_resources(alloc, name)
        rows.append((name, (
            name, label, str(state.get("Restarts", 0)), str(last.get("Type", "")),
            pretty_time_diff(from_unix_nano(last.get("Time")), now),
            pretty_time_diff(since, now), f"{cpu} MHz", megabytes(mem),
        )))
    return rows


def event_rows(alloc: dict[str, Any], task: str, now: datetime) -> list[Row]:
    """The task's recent events, newest first."""
    state = (alloc.get("TaskStates") or {}).get(task) or {}
    events = sorted(state.get("Events") or [], key=lambda e: int(e.get("Time") or 0),
                    reverse=True)
    rows: list[Row] = []
    for i, ev in enumerate(events):
        kind = str(ev.get("Type", ""))
        style = "red" if ev.get("FailsTask") or kind in ("Driver Failure", "Setup Failure") \
            else ""
        rows.append((f"{ev.get('Time', 0)}-{i}", (
            pretty_time_diff(from_unix_nano(ev.get("Time")), now),
            Text(kind, style=style),
            describe_event(ev)[:200],
        )))
    return rows
