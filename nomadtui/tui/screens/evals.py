"""Evaluations: every evaluation, newest first — ID, job, trigger, status and
whether placements failed. `enter` opens one (placement failures explained)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from nomadtui.cli.format import from_unix_nano, pretty_time_diff
from nomadtui.client import NomadClient, Response

from ..watch import WAIT_S
from ..widgets.resource_table import Column, Row
from .base import ResourceScreen

STATUS_STYLE = {
    "complete": "green",
    "pending": "yellow",
    "blocked": "yellow",
    "failed": "red",
    "canceled": "dim",
}


def eval_status(ev: dict[str, Any]) -> Text:
    status = str(ev.get("Status", ""))
    return Text(status, style=STATUS_STYLE.get(status, ""))


def placement_failures(ev: dict[str, Any]) -> Text:
    """`yes` (red) / `no`; still unknown while the eval is blocked (as the CLI)."""
    if ev.get("Status") == "blocked":
        return Text("pending", style="yellow")
    return Text("yes", style="red") if ev.get("FailedTGAllocs") else Text("no")


class EvalsScreen(ResourceScreen):
    VIEW_TITLE = "Evaluations"
    NAMESPACED = True
    SOURCE = "evals"
    COLUMNS = (
        Column("id", "ID", width=8),
        Column("job", "Job", width=14),
        Column("trigger", "Triggered By", width=18),
        Column("status", "Status", width=8),
        Column("failures", "Failures", width=8),
        Column("priority", "Pri", width=3, priority=3),
        Column("node", "Node", width=8, priority=2),
        Column("created", "Created", width=10, priority=1),
    )

    def fetch(self, client: NomadClient, index: int) -> Response:
        return client.evaluations(index=index or None, wait=WAIT_S)

    def rows(self, data: Any) -> list[Row]:
        now = datetime.now(UTC)
        evals = sorted(data or [], key=lambda e: -int(e.get("CreateIndex") or 0))
        return [
            (
                str(e["ID"]),
                (
                    str(e["ID"])[:8],
                    str(e.get("JobID", "")),
                    str(e.get("TriggeredBy", "")),
                    eval_status(e),
                    placement_failures(e),
                    str(e.get("Priority", "")),
                    str(e.get("NodeID") or "")[:8],
                    pretty_time_diff(from_unix_nano(e.get("CreateTime")), now),
                ),
            )
            for e in evals
        ]

    def open_item(self, key: str) -> None:
        self.console.open_eval(key)
