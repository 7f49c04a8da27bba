"""Allocations (`:allocs`): every allocation, newest first, live from a
blocking query on /v1/allocations; `enter` opens one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual.timer import Timer

from nomadtui.cli.format import from_unix_nano, pretty_time_diff
from nomadtui.client import NomadClient, Response

from ..watch import WAIT_S
from ..widgets.resource_table import Column, Row
from .alloc_format import client_status, desired_status
from .base import ResourceScreen


def alloc_rows(data: Any, now: datetime) -> list[Row]:
    allocs = sorted(data or [], key=lambda a: int(a.get("CreateIndex") or 0), reverse=True)
    return [
        (a["ID"], (
            a["ID"][:8],
            str(a.get("JobID", "")),
            str(a.get("TaskGroup", "")),
            str(a.get("NodeName") or str(a.get("NodeID", ""))[:8]),
            str(a.get("JobVersion", "")),
            desired_status(a),
            client_status(a),
            pretty_time_diff(from_unix_nano(a.get("CreateTime")), now),
            pretty_time_diff(from_unix_nano(a.get("ModifyTime")), now),
        ))
        for a in allocs
    ]


class AllocsScreen(ResourceScreen):
    VIEW_TITLE = "Allocations"
    SOURCE = "allocs"
    NAMESPACED = True
    COLUMNS = (
        Column("id", "ID", width=8),
        Column("job", "Job", width=16),
        Column("group", "Group", width=10, priority=4),
        Column("node", "Node", width=12, priority=2),
        Column("version", "Ver", width=3, priority=5),
        Column("desired", "Desired", width=7, priority=3),
        Column("status", "Status", width=8),
        Column("created", "Created", width=10, priority=6),
        Column("modified", "Modified", width=10, priority=1),
    )

    def __init__(self) -> None:
        super().__init__()
        self._data: Any = None
        self._ticker: Timer | None = None

    def on_mount(self) -> None:
        # (ResourceScreen.on_mount runs too.) Relative times age on their own.
        self._ticker = self.set_interval(10.0, self._retick)

    def _retick(self) -> None:
        if self._data is not None:
            self.table.set_rows(self.namespaced_rows(self._data))

    def fetch(self, client: NomadClient, index: int) -> Response:
        # the list needs no task states: a much smaller answer per change
        return client.get("/v1/allocations", {"task_states": False},
                          index=index or None, wait=WAIT_S)

    def rows(self, data: Any) -> list[Row]:
        self._data = data
        return alloc_rows(data, datetime.now(UTC))

    def open_item(self, key: str) -> None:
        self.console.open_alloc(key)
