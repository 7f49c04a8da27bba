"""Deployment: one deployment — status, a row per task group (desired / placed /
healthy / unhealthy / canaries / promoted / progress deadline, with a progress
bar) and its allocations (enter opens one).

Promote / fail / pause / resume (deployment_actions) are offered only when
the deployment's state allows them, and never with --read-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from nomadtui.cli.format import from_rfc3339, from_unix_nano, go_duration, pretty_time_diff

from ..messages import DataChanged
from ..permissions import SUBMIT_JOB
from ..watch import WAIT_S
from ..widgets.bars import progress_bar
from ..widgets.resource_table import Column, ResourceTable, Row
from . import deployment_actions
from .base import ConsoleScreen, ContextBar
from .deployments import deployment_status

GROUP_COLUMNS = (
    Column("group", "Group", width=12),
    Column("progress", "Healthy/Desired", width=15),
    Column("desired", "Desired", width=7),
    Column("placed", "Placed", width=6, priority=3),
    Column("healthy", "Healthy", width=7),
    Column("unhealthy", "Unhealthy", width=9),
    Column("canaries", "Canaries", width=8, priority=4),
    Column("promoted", "Promoted", width=8, priority=5),
    Column("deadline", "Deadline", width=12, priority=2),
)
ALLOC_COLUMNS = (
    Column("id", "ID", width=8),
    Column("group", "Group", width=12, priority=2),
    Column("node", "Node", width=12, priority=3),
    Column("version", "Ver", width=3, priority=4),
    Column("status", "Status", width=8),
    Column("healthy", "Healthy", width=7),
    Column("canary", "Canary", width=6, priority=5),
    Column("created", "Created", width=10, priority=1),
)
ALLOC_STATUS_STYLE = {
    "running": "green",
    "pending": "yellow",
    "failed": "red",
    "lost": "red",
    "complete": "dim",
}


def deadline_text(group: dict[str, Any], dep: dict[str, Any], now: datetime) -> str:
    by = from_rfc3339(group.get("RequireProgressBy"))
    if dep.get("Status") not in ("running", "paused") or by is None:
        deadline = int(group.get("ProgressDeadline") or 0)
        return go_duration(deadline) if deadline else "N/A"
    return pretty_time_diff(by, now).replace(" from now", " left")


def group_rows(dep: dict[str, Any], now: datetime) -> list[Row]:
    rows: list[Row] = []
    for name, g in sorted((dep.get("TaskGroups") or {}).items()):
        desired, healthy = int(g.get("DesiredTotal") or 0), int(g.get("HealthyAllocs") or 0)
        wants_canaries = int(g.get("DesiredCanaries") or 0) > 0
        unhealthy = int(g.get("UnhealthyAllocs") or 0)
        placed_canaries = len(g.get("PlacedCanaries") or [])
        rows.append(
            (
                name,
                (
                    name,
                    progress_bar(healthy, desired, width=8),
                    str(desired),
                    str(g.get("PlacedAllocs", 0)),
                    Text(str(healthy), style="green" if healthy >= desired else ""),
                    Text(str(unhealthy), style="red" if unhealthy else ""),
                    f"{placed_canaries}/{g.get('DesiredCanaries', 0)}" if wants_canaries else "-",
                    ("true" if g.get("Promoted") else "false") if wants_canaries else "N/A",
                    deadline_text(g, dep, now),
                ),
            )
        )
    return rows


def health_text(alloc: dict[str, Any]) -> Text:
    healthy = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    if healthy is None:
        return Text("-", style="dim")
    return Text("yes", style="green") if healthy else Text("no", style="red")


def alloc_rows(allocs: list[dict[str, Any]], now: datetime) -> list[Row]:
    rows: list[Row] = []
    for a in sorted(allocs, key=lambda a: -int(a.get("CreateIndex") or 0)):
        status = str(a.get("ClientStatus", ""))
        canary = bool((a.get("DeploymentStatus") or {}).get("Canary"))
        rows.append(
            (
                str(a["ID"]),
                (
                    str(a["ID"])[:8],
                    str(a.get("TaskGroup", "")),
                    str(a.get("NodeName") or str(a.get("NodeID", ""))[:8]),
                    str(a.get("JobVersion", "")),
                    Text(status, style=ALLOC_STATUS_STYLE.get(status, "")),
                    health_text(a),
                    "yes" if canary else "",
                    pretty_time_diff(from_unix_nano(a.get("CreateTime")), now),
                ),
            )
        )
    return rows


def header(dep: dict[str, Any]) -> Text:
    text = Text()
    text.append(f"{dep.get('JobID', '')}", style="bold")
    text.append(f" v{dep.get('JobVersion', 0)}  ")
    text.append_text(deployment_status(dep))
    text.append(f"  {dep.get('ID', '')}\n", style="dim")
    text.append(str(dep.get("StatusDescription", "")))
    return text


class DeploymentScreen(ConsoleScreen):
    VIEW_TITLE = "Deployment"
    MUTATING = frozenset(deployment_actions.ACTIONS)
    NEEDS = dict.fromkeys(deployment_actions.ACTIONS, SUBMIT_JOB)
    DEFAULT_CSS = """
    DeploymentScreen #header {
        height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DeploymentScreen #groups { height: auto; max-height: 10; }
    DeploymentScreen .section { height: 1; padding: 0 1; background: $boost; }
    DeploymentScreen #allocs { height: 1fr; }
    """
    BINDINGS = [
        Binding("p", "promote", "Promote", id="deployment.promote"),
        Binding("F", "fail", "Fail", id="deployment.fail"),
        Binding("P", "pause", "Pause", id="deployment.pause"),
        Binding("U", "resume", "Resume", id="deployment.resume"),
        Binding("J", "open_job", "Job", id="deployment.job"),
    ]

    def __init__(self, dep_id: str) -> None:
        super().__init__()
        self.dep_id = dep_id
        self.dep: dict[str, Any] | None = None

    def context_text(self) -> str:
        return f"Deployment {self.dep_id[:8]}"

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static("loading deployment…", id="header")
        yield ResourceTable(GROUP_COLUMNS, id="groups")
        yield Static("Allocations", classes="section")
        yield ResourceTable(ALLOC_COLUMNS, id="allocs")
        yield Footer()

    def on_mount(self) -> None:
        self.start_watches()
        self.query_one("#allocs", ResourceTable).focus()

    def start_watches(self) -> None:
        dep_id = self.dep_id
        self.watch_api(
            "deployment", lambda c, i: c.deployment(dep_id, index=i or None, wait=WAIT_S)
        )
        self.watch_api(
            "deployment.allocs",
            lambda c, i: c.deployment_allocations(dep_id, index=i or None, wait=WAIT_S),
        )

    def on_data_changed(self, message: DataChanged) -> None:
        now = datetime.now(UTC)
        if message.source == "deployment":
            self.dep = dict(message.data or {})
            self.query_one("#header", Static).update(header(self.dep))
            self.query_one("#groups", ResourceTable).set_rows(group_rows(self.dep, now))
            self.refresh_bindings()
        elif message.source == "deployment.allocs":
            self.query_one("#allocs", ResourceTable).set_rows(
                alloc_rows(list(message.data or []), now)
            )
        else:
            return
        self.console.connection_ok()

    def acl_namespace(self) -> str:
        return str((self.dep or {}).get("Namespace") or self.console.namespace)

    def action_applicable(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in deployment_actions.ACTIONS:
            return deployment_actions.allowed(action, self.dep)
        return True

    def on_data_table_row_selected(self, event: ResourceTable.RowSelected) -> None:
        if event.data_table.id == "allocs" and event.row_key.value is not None:
            self.console.open_alloc(str(event.row_key.value))

    def _act(self, action: str) -> None:
        if self.dep is not None and deployment_actions.allowed(action, self.dep):
            deployment_actions.act(self, self.client, action, self.dep)

    def action_promote(self) -> None:
        self._act("promote")

    def action_fail(self) -> None:
        self._act("fail")

    def action_pause(self) -> None:
        self._act("pause")

    def action_resume(self) -> None:
        self._act("resume")

    def action_open_job(self) -> None:
        if self.dep is not None:
            self.console.open_job(str(self.dep.get("JobID", "")))
