"""Deployments: every deployment, newest first — ID, job, version, status,
description. `enter` opens the deployment (per-group progress and actions)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from nomadtui.client import NomadClient, Response

from ..watch import WAIT_S
from ..widgets.resource_table import Column, Row
from .base import ResourceScreen

STATUS_STYLE = {
    "running": "yellow",
    "paused": "cyan",
    "successful": "green",
    "failed": "red",
    "cancelled": "dim",
    "blocked": "red",
}


def deployment_status(dep: dict[str, Any]) -> Text:
    status = str(dep.get("Status", ""))
    return Text(status, style=STATUS_STYLE.get(status, ""))


class DeploymentsScreen(ResourceScreen):
    VIEW_TITLE = "Deployments"
    NAMESPACED = True
    SOURCE = "deployments"
    COLUMNS = (
        Column("id", "ID", width=8),
        Column("job", "Job", width=16),
        Column("version", "Version", width=7, priority=2),
        Column("status", "Status", width=10),
        Column("description", "Description", width=36, priority=1),
    )

    def fetch(self, client: NomadClient, index: int) -> Response:
        return client.deployments(index=index or None, wait=WAIT_S)

    def rows(self, data: Any) -> list[Row]:
        deps = sorted(data or [], key=lambda d: -int(d.get("CreateIndex") or 0))
        return [
            (
                str(d["ID"]),
                (
                    str(d["ID"])[:8],
                    str(d.get("JobID", "")),
                    str(d.get("JobVersion", 0)),
                    deployment_status(d),
                    str(d.get("StatusDescription", "")),
                ),
            )
            for d in deps
        ]

    def open_item(self, key: str) -> None:
        self.console.open_deployment(key)
