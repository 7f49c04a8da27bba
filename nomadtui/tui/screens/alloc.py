"""AllocScreen: one allocation, live — status, node, job, deployment health,
task states with their recent events, resources, ports; logs from here.

Restart (a task or all) and stop are MUTATING: hidden with --read-only,
disabled (with the reason) for a token without alloc-lifecycle (logs: read-logs),
behind a confirmation that defaults to Cancel, run off the UI thread, and
reported as a notification (success or the server's error). The screen keeps
its last good data when the allocation cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Static

from controlplane.errors import NotFound
from nomadtui.client import NomadClient, Response

from ..messages import DataChanged
from ..permissions import ALLOC_LIFECYCLE, READ_LOGS
from ..watch import WAIT_S
from ..widgets.confirm import ConfirmScreen
from ..widgets.resource_table import Column, ResourceTable
from .alloc_format import event_rows, facts, task_rows
from .base import ConsoleScreen, ContextBar

TASK_COLUMNS = (
    Column("task", "Task", width=14),
    Column("state", "State", width=10),
    Column("restarts", "Restarts", width=8, priority=3),
    Column("event", "Last event", width=16, priority=1),
    Column("event_at", "When", width=10, priority=2),
    Column("since", "Since", width=10, priority=6),
    Column("cpu", "CPU", width=8, priority=5),
    Column("memory", "Memory", width=8, priority=4),
)
EVENT_COLUMNS = (
    Column("time", "When", width=10),
    Column("type", "Type", width=16),
    Column("description", "Description"),
)


def _gone(message: str) -> Response:
    return Response(data={"__error__": message})


class AllocScreen(ConsoleScreen):
    VIEW_TITLE = "Allocation"
    MUTATING = frozenset({"restart", "stop"})
    NEEDS = {"restart": ALLOC_LIFECYCLE, "stop": ALLOC_LIFECYCLE, "logs": READ_LOGS}
    DEFAULT_CSS = """
    AllocScreen #facts { height: auto; padding: 0 1; margin-bottom: 1; }
    AllocScreen #facts Static {
        width: 1fr; height: auto; text-wrap: nowrap; text-overflow: ellipsis;
    }
    AllocScreen #tasks { height: auto; max-height: 8; }
    AllocScreen #events-title { height: 1; padding: 0 1; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis; }
    AllocScreen #events { height: 1fr; }
    """
    BINDINGS = [
        Binding("l", "logs", "Logs", id="alloc.logs"),
        Binding("r", "restart(False)", "Restart", id="alloc.restart"),
        Binding("R", "restart(True)", "Restart all", id="alloc.restart_all"),
        Binding("S", "stop", "Stop", id="alloc.stop"),
        Binding("J", "job", "Job", show=False, id="alloc.job"),
        Binding("c", "copy_id", "Copy ID", show=False, id="alloc.copy"),
        Binding("j", "cursor(1)", "Down", show=False, id="alloc.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="alloc.up"),
    ]

    def __init__(self, alloc_id: str) -> None:
        super().__init__()
        self.alloc_id = alloc_id
        self.alloc: dict[str, Any] = {}

    def acl_namespace(self) -> str:
        return str(self.alloc.get("Namespace") or self.console.namespace)

    def context_text(self) -> str:
        name = self.alloc.get("Name", "")
        return f"Allocation {self.alloc_id[:8]}" + (f" {name}" if name else "")

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        with Horizontal(id="facts"):
            yield Static("loading…", id="facts-left")
            yield Static("", id="facts-right")
        yield ResourceTable(TASK_COLUMNS, id="tasks")
        yield Static("", id="events-title")
        yield ResourceTable(EVENT_COLUMNS, id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.start_watches()
        self.tasks.focus()
        self.events.can_focus = False
        # relative times ("5s ago") age without any change on the server
        self.set_interval(5.0, self.render_alloc)

    def start_watches(self) -> None:
        alloc_id = self.alloc_id

        def fetch(client: NomadClient, index: int) -> Response:
            try:
                return client.allocation(alloc_id, index=index or None, wait=WAIT_S)
            except NotFound as exc:
                # not a connection problem: say so here, keep the last data
                return _gone(str(exc))

        self.watch_api("alloc", fetch)

    @property
    def tasks(self) -> ResourceTable:
        return self.query_one("#tasks", ResourceTable)

    @property
    def events(self) -> ResourceTable:
        return self.query_one("#events", ResourceTable)

    @property
    def current_task(self) -> str | None:
        return self.tasks.current_key

    # -- data ------------------------------------------------------------
    def on_data_changed(self, message: DataChanged) -> None:
        if message.source != "alloc":
            return
        self.console.connection_ok()
        data = message.data or {}
        if "__error__" in data:
            self.query_one("#events-title", Static).update(
                f"[red]allocation {self.alloc_id[:8]}: {data['__error__']}[/] "
                "(showing the last data)")
            return
        first = not self.alloc
        self.alloc = data
        self.render_alloc()
        if first:
            self.console.update_context()
            self.refresh_bindings()  # its namespace decides what the token may do

    def render_alloc(self) -> None:
        if not self.alloc:
            return
        now = datetime.now(UTC)
        left, right = facts(self.alloc, now)
        self.query_one("#facts-left", Static).update(left)
        self.query_one("#facts-right", Static).update(right)
        self.tasks.set_rows(task_rows(self.alloc, now))
        self.render_events()

    def render_events(self) -> None:
        task = self.current_task
        title = self.query_one("#events-title", Static)
        if task is None:
            title.update("No tasks")
            self.events.set_rows([])
            return
        title.update(f'Recent events of task "{task}" (newest first)')
        self.events.set_rows(event_rows(self.alloc, task, datetime.now(UTC)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "tasks" and self.alloc:
            self.render_events()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tasks" and event.row_key.value is not None:
            self.console.open_logs(self.alloc_id, str(event.row_key.value))

    # -- actions -----------------------------------------------------------
    def action_cursor(self, step: int) -> None:
        if step > 0:
            self.tasks.action_cursor_down()
        else:
            self.tasks.action_cursor_up()

    def action_logs(self) -> None:
        task = self.current_task
        if task is None:
            self.notify("no task to show logs for", severity="warning", timeout=2)
            return
        self.console.open_logs(self.alloc_id, task)

    def action_job(self) -> None:
        if self.alloc.get("JobID"):
            self.console.open_job(str(self.alloc["JobID"]))

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.alloc_id)
        self.notify(f"copied {self.alloc_id}", timeout=1.5)

    def action_restart(self, all_tasks: bool) -> None:
        task = self.current_task
        if not all_tasks and task is None:
            self.notify("no task selected", severity="warning", timeout=2)
            return
        what = "all tasks" if all_tasks else f'task "{task}"'
        body = {"TaskName": "", "AllTasks": True} if all_tasks else \
            {"TaskName": task, "AllTasks": False}
        path = f"/v1/client/allocation/{self.alloc_id}/restart"
        self._confirm(
            f"Restart {what} of allocation {self.alloc_id[:8]}?", "Restart",
            f"restarted {what} of {self.alloc_id[:8]}",
            f"restart of {what}", lambda client: client.put(path, body),
        )

    def action_stop(self) -> None:
        path = f"/v1/allocation/{self.alloc_id}/stop"
        self._confirm(
            f"Stop allocation {self.alloc_id[:8]}? The scheduler will replace it.",
            "Stop", f"stopping allocation {self.alloc_id[:8]}",
            f"stop of {self.alloc_id[:8]}", lambda client: client.put(path),
        )

    def _confirm(self, question: str, label: str, done: str, what: str,
                 call: Callable[[NomadClient], Response]) -> None:
        client = self.client

        def succeeded(resp: Response) -> str:
            eval_id = (resp.data or {}).get("EvalID") if isinstance(resp.data, dict) else None
            return done + (f" (eval {str(eval_id)[:8]})" if eval_id else "")

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_api(what, lambda: call(client), succeeded)

        self.app.push_screen(ConfirmScreen(question, label), answered)
