"""Evaluation: one evaluation — key facts, placement failures explained (the
metric bullets `nomad eval status` prints) and the allocations it placed.

Read-only; a blocking watch on the eval and one on its allocations keep it
live (a blocked eval turning complete shows up without a refresh).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from nomadtui.cli.format import from_rfc3339, from_unix_nano, pretty_time_diff
from nomadtui.cli.metrics import alloc_metric_lines, failed_to_place

from ..messages import DataChanged
from ..watch import WAIT_S
from ..widgets.resource_table import Column, ResourceTable, Row
from .base import ConsoleScreen, ContextBar
from .evals import eval_status

ALLOC_COLUMNS = (
    Column("id", "ID", width=8),
    Column("name", "Name", width=22, priority=2),
    Column("node", "Node", width=12, priority=3),
    Column("desired", "Desired", width=7),
    Column("status", "Status", width=8),
    Column("created", "Created", width=10, priority=1),
)


def facts(ev: dict[str, Any], now: datetime) -> Text:
    text = Text()
    text.append_text(eval_status(ev))
    text.append(f"  {ev.get('StatusDescription') or ''}".rstrip())
    text.append(f"  {ev.get('ID', '')}\n", style="dim")
    parts = [
        f"job {ev.get('JobID', '')}",
        f"type {ev.get('Type', '')}",
        f"priority {ev.get('Priority', '')}",
        f"triggered by {ev.get('TriggeredBy', '')}",
        f"namespace {ev.get('Namespace', '')}",
    ]
    text.append("  ".join(parts) + "\n")
    when = [
        f"created {pretty_time_diff(from_unix_nano(ev.get('CreateTime')), now)}",
        f"modified {pretty_time_diff(from_unix_nano(ev.get('ModifyTime')), now)}",
    ]
    wait_until = from_rfc3339(ev.get("WaitUntil"))
    if wait_until:
        when.append(f"waits until {pretty_time_diff(wait_until, now)}")
    for key, label in (
        ("NodeID", "node"),
        ("DeploymentID", "deployment"),
        ("PreviousEval", "previous"),
        ("NextEval", "next"),
        ("BlockedEval", "blocked eval"),
    ):
        if ev.get(key):
            when.append(f"{label} {str(ev[key])[:8]}")
    text.append("  ".join(when))
    queued = ev.get("QueuedAllocations") or {}
    if queued:
        text.append("\nqueued " + ", ".join(f"{g}={n}" for g, n in sorted(queued.items())))
    return text


def failures(ev: dict[str, Any]) -> Text:
    """`Task Group "g" (failed to place N allocations):` and its bullets."""
    failed: dict[str, Any] = ev.get("FailedTGAllocs") or {}
    if not failed:
        if ev.get("Status") == "blocked":
            return Text(
                "Placement failures: pending (blocked, waiting for capacity)", style="yellow"
            )
        return Text("No placement failures", style="green")
    text = Text("Failed placements\n", style="bold red")
    for name, metric in sorted(failed.items()):
        text.append(
            f'Task Group "{name}" (failed to place {failed_to_place(metric)}):\n', style="bold"
        )
        for line in alloc_metric_lines(metric):
            text.append(line + "\n")
    if ev.get("BlockedEval"):
        text.append(
            f'Evaluation "{str(ev["BlockedEval"])[:8]}" waiting for additional '
            "capacity to place remainder",
            style="yellow",
        )
    text.rstrip()
    return text


def alloc_rows(allocs: list[dict[str, Any]], now: datetime) -> list[Row]:
    return [
        (
            str(a["ID"]),
            (
                str(a["ID"])[:8],
                str(a.get("Name", "")),
                str(a.get("NodeName") or str(a.get("NodeID", ""))[:8]),
                str(a.get("DesiredStatus", "")),
                str(a.get("ClientStatus", "")),
                pretty_time_diff(from_unix_nano(a.get("CreateTime")), now),
            ),
        )
        for a in sorted(allocs, key=lambda a: str(a.get("Name", "")))
    ]


class EvalScreen(ConsoleScreen):
    VIEW_TITLE = "Evaluation"
    DEFAULT_CSS = """
    EvalScreen #facts {
        height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    EvalScreen #failures-box { height: auto; max-height: 50%; padding: 0 1; }
    EvalScreen #failures { height: auto; }
    EvalScreen .section { height: 1; padding: 0 1; background: $boost; }
    EvalScreen #allocs { height: 1fr; }
    """
    BINDINGS = [Binding("J", "open_job", "Job", id="eval.job")]

    def __init__(self, eval_id: str) -> None:
        super().__init__()
        self.eval_id = eval_id
        self.ev: dict[str, Any] | None = None

    def context_text(self) -> str:
        return f"Evaluation {self.eval_id[:8]}"

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static("loading evaluation…", id="facts")
        with VerticalScroll(id="failures-box"):
            yield Static("", id="failures")
        yield Static("Allocations placed", classes="section")
        yield ResourceTable(ALLOC_COLUMNS, id="allocs")
        yield Footer()

    def on_mount(self) -> None:
        self.start_watches()
        self.query_one("#allocs", ResourceTable).focus()

    def start_watches(self) -> None:
        eval_id = self.eval_id
        self.watch_api("eval", lambda c, i: c.evaluation(eval_id, index=i or None, wait=WAIT_S))
        self.watch_api(
            "eval.allocs",
            lambda c, i: c.evaluation_allocations(eval_id, index=i or None, wait=WAIT_S),
        )

    def on_data_changed(self, message: DataChanged) -> None:
        now = datetime.now(UTC)
        if message.source == "eval":
            self.ev = dict(message.data or {})
            self.query_one("#facts", Static).update(facts(self.ev, now))
            self.query_one("#failures", Static).update(failures(self.ev))
        elif message.source == "eval.allocs":
            self.query_one("#allocs", ResourceTable).set_rows(
                alloc_rows(list(message.data or []), now)
            )
        else:
            return
        self.console.connection_ok()

    def on_data_table_row_selected(self, event: ResourceTable.RowSelected) -> None:
        if event.data_table.id == "allocs" and event.row_key.value is not None:
            self.console.open_alloc(str(event.row_key.value))

    def action_open_job(self) -> None:
        if self.ev is not None and self.ev.get("JobID"):
            self.console.open_job(str(self.ev["JobID"]))
