"""Rows of the Job view's Allocations and Evaluations tabs, and the detail
text of one evaluation (why its placements failed).

Pure functions over AllocListStub / Evaluation JSON (API.md §3.9, §3.11);
columns narrow by priority so nothing wraps at 80 columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from nomadtui.cli.format import format_datetime, from_rfc3339, from_unix_nano, pretty_time_diff

from ..widgets.resource_table import Column, Row
from .job_overview import placement_failures, styled

Json = dict[str, Any]

ALLOC_COLUMNS = (
    Column("id", "ID", width=8),
    Column("node", "Node", width=12, priority=4),
    Column("group", "Group", width=10, priority=2),
    Column("version", "Ver", width=3, priority=3),
    Column("desired", "Desired", width=7),
    Column("status", "Status", width=8),
    Column("created", "Created", width=9, priority=5),
    Column("modified", "Modified", width=9, priority=6),
)

EVAL_COLUMNS = (
    Column("id", "ID", width=8),
    Column("priority", "Priority", width=8, priority=3),
    Column("trigger", "Triggered By", width=18),
    Column("status", "Status", width=9),
    Column("failures", "Placement Failures", width=18, priority=1),
    Column("created", "Created", width=9, priority=2),
)


def _ago(ns: Any, now: datetime) -> str:
    return pretty_time_diff(from_unix_nano(ns), now)


def alloc_rows(allocs: list[Json] | None, now: datetime) -> list[Row]:
    """Newest allocation first, as `nomad job status` lists them."""
    ordered = sorted(allocs or [], key=lambda a: int(a.get("CreateIndex") or 0), reverse=True)
    rows: list[Row] = []
    for a in ordered:
        node = str(a.get("NodeName") or str(a.get("NodeID", ""))[:8])
        desired = str(a.get("DesiredStatus", ""))
        rows.append(
            (
                str(a["ID"]),
                (
                    str(a["ID"])[:8],
                    node,
                    str(a.get("TaskGroup", "")),
                    str(a.get("JobVersion", "")),
                    Text(desired, style="" if desired == "run" else "dim"),
                    styled(str(a.get("ClientStatus", ""))),
                    _ago(a.get("CreateTime"), now),
                    _ago(a.get("ModifyTime"), now),
                ),
            )
        )
    return rows


def _failures(ev: Json) -> Text:
    if ev.get("Status") == "blocked":
        return Text("N/A - In Progress", style="yellow")
    failed = ev.get("FailedTGAllocs") or {}
    if not failed:
        return Text("false", style="dim")
    return Text(f"true ({', '.join(sorted(failed))})", style="red")


def eval_rows(evals: list[Json] | None, now: datetime) -> list[Row]:
    ordered = sorted(evals or [], key=lambda e: int(e.get("CreateIndex") or 0), reverse=True)
    return [
        (
            str(e["ID"]),
            (
                str(e["ID"])[:8],
                str(e.get("Priority", "")),
                str(e.get("TriggeredBy", "")),
                styled(str(e.get("Status", ""))),
                _failures(e),
                _ago(e.get("CreateTime"), now),
            ),
        )
        for e in ordered
    ]


def eval_detail(ev: Json | None, now: datetime) -> Text:
    """What an evaluation did, and why placements failed (the CLI's bullets)."""
    if ev is None:
        return Text("Highlight an evaluation to see its details.", style="dim")
    out = Text()
    out.append(f"Evaluation {ev.get('ID', '')}", style="bold")
    out.append("  ")
    out.append_text(styled(str(ev.get("Status", ""))))
    if ev.get("StatusDescription"):
        out.append(f"\n{ev['StatusDescription']}", style="italic")
    queued = ev.get("QueuedAllocations") or {}
    if queued:
        out.append("\nQueued: " + ", ".join(f"{g}={n}" for g, n in sorted(queued.items())))
    wait_until = from_rfc3339(ev.get("WaitUntil"))
    if wait_until is not None:
        out.append(
            f"\nWaits until {format_datetime(wait_until)} ({pretty_time_diff(wait_until, now)})"
        )
    for label, key in (
        ("Deployment", "DeploymentID"),
        ("Next eval", "NextEval"),
        ("Blocked eval", "BlockedEval"),
        ("Previous eval", "PreviousEval"),
    ):
        if ev.get(key):
            out.append(f"\n{label}: {str(ev[key])[:8]}")
    if ev.get("FailedTGAllocs"):
        out.append("\n\n")
        out.append_text(placement_failures(ev))
    return out
