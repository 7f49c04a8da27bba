"""ResourceScreen: the shape of every list view, and ConsoleScreen, of every view.

A ConsoleScreen owns its watches (started on mount, stopped on unmount) and
turns their data into widgets on the UI thread. A ResourceScreen adds a
ResourceTable with `/` filter, sort (`s` cycles the sort column), `enter` to
drill in and `c` to copy the selected ID. Subclasses say what to fetch and
how a row looks.

Actions that change the cluster are named in MUTATING (hidden with
--read-only) and what each needs from the token in NEEDS (permissions.py);
one the token lacks is shown disabled with the reason, never tried and
failed. Subclasses say when an action applies at all in `action_applicable`.
A list of namespaced objects (NAMESPACED) grows a Namespace column when the
console views every namespace (`:ns *`).

Textual calls `on_mount`, `on_unmount` and message handlers of EVERY class
in a screen's inheritance chain: a subclass must not call super() for them,
and should `message.prevent_default()` when it fully handles a DataChanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Key
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from controlplane.errors import NomadError, PermissionDenied
from nomadtui.client import AgentUnreachable, NomadClient, Response, one_line

from ..messages import AccessDenied, ConnectionChanged, DataChanged, WatchFailed
from ..watch import Watch
from ..widgets.resource_table import Column, ResourceTable, Row

if TYPE_CHECKING:
    from ..app import ConsoleApp


log = logging.getLogger(__name__)

T = TypeVar("T")

RENDER_EVERY_S = 0.2
"""A busy list redraws at most five times a second."""

NAMESPACE_COLUMN = Column("namespace", "Namespace", width=10)


class ContextBar(Static):
    """Top line: where we are connected, namespace, view, read-only, errors."""

    DEFAULT_CSS = """
    ContextBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    ContextBar.error { background: $error; }
    """


class ConsoleScreen(Screen[None]):
    VIEW_TITLE: ClassVar[str] = ""
    # actions that change the cluster: hidden with --read-only
    MUTATING: ClassVar[frozenset[str]] = frozenset()
    # action -> what the token needs for it (a capability, or "node:write")
    NEEDS: ClassVar[Mapping[str, str]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.watches: list[Watch] = []
        self._last_failure = ""

    @property
    def console(self) -> ConsoleApp:
        from ..app import ConsoleApp

        assert isinstance(self.app, ConsoleApp)
        return self.app

    @property
    def client(self) -> NomadClient:
        return self.console.client

    def context_text(self) -> str:
        return self.VIEW_TITLE

    def watch_api(self, source: str, fetch: Callable[[NomadClient, int], Response]) -> Watch:
        """Start a watch whose results arrive as DataChanged(source, data)."""
        client = self.client
        watch = Watch(
            source,
            lambda index: fetch(client, index),
            on_data=lambda data: self._post(DataChanged(source, data)),
            on_error=lambda err: self._failed(source, err),
        ).start()
        self.watches.append(watch)
        return watch

    def _post(self, message: DataChanged) -> None:
        self.post_message(message)

    def _failed(self, source: str, err: NomadError) -> None:
        # no answer at all is the connection's problem; an answer that says
        # no (not found, permission denied) is this view's
        if isinstance(err, AgentUnreachable):
            self.console.post_message(ConnectionChanged(str(err)))
            return
        if isinstance(err, PermissionDenied):
            # perhaps no token yet, or a wrong one: the app may ask for one
            self.console.post_message(AccessDenied(str(err)))
        self.post_message(WatchFailed(source, str(err)))

    def on_watch_failed(self, message: WatchFailed) -> None:
        if message.error != self._last_failure:
            self._last_failure = message.error
            self.notify(f"{message.source}: {message.error}", severity="error", timeout=6)

    def start_watches(self) -> None:
        """Start this screen's watches (on mount, and again after `:ns`)."""

    def restart_watches(self) -> None:
        for w in self.watches:
            w.stop()
        self.watches = []
        self.start_watches()

    def on_unmount(self) -> None:
        for w in self.watches:
            w.stop()

    def call_api(
        self,
        what: str,
        call: Callable[[], T],
        success: Callable[[T], str] | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Run an action's API `call` off the UI thread, then say how it went.

        Success notifies `success(resp)` (default "`what`: done") and runs
        `then` on the UI thread; a server error or a bug notifies
        "`what` failed: ..." and the screen keeps its data.
        """
        app = self.app

        def failed(exc: Exception) -> None:
            app.call_from_thread(
                app.notify, f"{what} failed: {one_line(str(exc))}",
                title="Error", severity="error", timeout=8,
            )

        def work() -> None:
            try:
                resp = call()
            except NomadError as exc:
                failed(exc)
                return
            except Exception as exc:  # a bug must not take the console down
                log.exception("action %s failed", what)
                failed(exc)
                return
            app.call_from_thread(
                app.notify, success(resp) if success else f"{what}: done", timeout=4
            )
            if then is not None:
                app.call_from_thread(then)

        self.run_worker(work, thread=True, group="actions", exit_on_error=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.console.read_only:
            return False
        applicable = self.action_applicable(action, parameters)
        if not applicable:
            return applicable
        # None: in the footer and help, dimmed, with the reason on a press
        return None if self.denied_reason(action) else True

    def action_applicable(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Whether `action` makes sense here now (False hides it, None dims it)."""
        return True

    def acl_namespace(self) -> str:
        """The namespace this screen's object lives in (for NEEDS)."""
        return self.console.namespace

    def denied_reason(self, action: str) -> str:
        """Why the token may not run `action` here ("" if it may)."""
        need = self.NEEDS.get(action)
        if need is None:
            return ""
        return self.console.permissions.denied(need, self.acl_namespace())

    def refresh_data(self) -> None:
        for w in self.watches:
            w.refresh()

    def on_screen_resume(self) -> None:
        self.console.update_context()


class ResourceScreen(ConsoleScreen):
    """A list view of one resource kind."""

    COLUMNS: ClassVar[Sequence[Column]] = ()
    SOURCE: ClassVar[str] = ""
    # rows are namespaced objects: a Namespace column when viewing `*`
    NAMESPACED: ClassVar[bool] = False
    BINDINGS = [
        Binding("enter", "open", "Open", id="list.open"),
        Binding("slash", "filter", "Filter", id="list.filter"),
        Binding("s", "sort", "Sort", id="list.sort"),
        Binding("c", "copy_id", "Copy ID", id="list.copy"),
        Binding("j", "cursor('down')", "Down", show=False, id="list.down"),
        Binding("k", "cursor('up')", "Up", show=False, id="list.up"),
        Binding("g", "cursor('top')", "Top", show=False, id="list.top"),
        Binding("G", "cursor('bottom')", "Bottom", show=False, id="list.bottom"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._pending: Any = None
        self._drawn_at = 0.0
        self._draw_scheduled = False

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Input(placeholder="filter (esc to clear)", id="filter", classes="hidden")
        yield ResourceTable(self.columns(), id="table")
        yield Footer()

    @property
    def all_namespaces(self) -> bool:
        return self.NAMESPACED and self.console.namespace == "*"

    def columns(self) -> Sequence[Column]:
        if not self.all_namespaces:
            return self.COLUMNS
        return (self.COLUMNS[0], NAMESPACE_COLUMN, *self.COLUMNS[1:])

    def on_mount(self) -> None:
        self.start_watches()
        self.query_one(ResourceTable).focus()

    def start_watches(self) -> None:
        self.watch_api(self.SOURCE, self.fetch)

    def restart_watches(self) -> None:
        # the namespace may have changed to or from `*`: columns first
        for table in self.query("#table").results(ResourceTable):
            if table.all_columns != list(self.columns()):
                self._pending = None
                table.set_columns(self.columns())
        super().restart_watches()

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    # -- subclass hooks --------------------------------------------------
    def fetch(self, client: NomadClient, index: int) -> Response:
        raise NotImplementedError

    def rows(self, data: Any) -> list[Row]:
        raise NotImplementedError

    def namespaced_rows(self, data: Any) -> list[Row]:
        """`rows`, with each row's namespace as the second cell when viewing `*`."""
        rows = self.rows(data)
        if not self.all_namespaces:
            return rows
        by_key = self.row_namespaces(data)
        return [(key, (cells[0], by_key.get(key, ""), *cells[1:])) for key, cells in rows]

    def row_namespaces(self, data: Any) -> dict[str, str]:
        """Row key -> namespace; rows are keyed by the object's ID by default."""
        return {
            str(item.get("ID", "")): str(item.get("Namespace", ""))
            for item in data or [] if isinstance(item, dict)
        }

    def open_item(self, key: str) -> None:
        """Drill into the row `key` (a detail screen)."""

    # -- events ----------------------------------------------------------
    def on_data_changed(self, message: DataChanged) -> None:
        if message.source != self.SOURCE:
            return
        self._last_failure = ""
        self.console.connection_ok()
        # under heavy churn answers arrive faster than anyone can read: draw
        # the newest at most RENDER_EVERY_S apart
        first = self._pending is None and self._drawn_at == 0.0
        self._pending = message.data
        if first:
            self._draw_pending()
        elif not self._draw_scheduled:
            self._draw_scheduled = True
            wait = max(0.01, RENDER_EVERY_S - (time.monotonic() - self._drawn_at))
            self.set_timer(wait, self._draw_pending)

    def _draw_pending(self) -> None:
        self._draw_scheduled = False
        if self._pending is None:
            return
        data, self._pending = self._pending, None
        self._drawn_at = time.monotonic()
        self.table.set_rows(self.namespaced_rows(data))

    def action_open(self) -> None:
        key = self.table.current_key
        if key is not None:
            self.open_item(key)

    def on_data_table_row_selected(self, event: ResourceTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_item(str(event.row_key.value))

    def on_data_table_header_selected(self, event: ResourceTable.HeaderSelected) -> None:
        self.table.sort_by(str(event.column_key.value))

    def on_key(self, event: Key) -> None:
        # shift+letter sorts by the column whose title starts with it (k9s);
        # G stays "bottom"
        char = event.character or ""
        if len(char) == 1 and char.isupper() and char != "G" and self.table.has_focus:
            for column in self.table.shown:
                if column.label.upper().startswith(char):
                    self.table.sort_by(column.key)
                    event.stop()
                    return

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.table.focus()

    def key_escape(self) -> bool:
        box = self.query_one("#filter", Input)
        if not box.has_class("hidden"):
            box.value = ""
            box.add_class("hidden")
            self.table.set_filter("")
            self.table.focus()
            return True
        return False

    def action_sort(self) -> None:
        keys = [c.key for c in self.table.shown]
        if not keys:
            return
        current = self.table.sort_key
        if current in keys and self.table.sort_reverse:
            nxt = keys[(keys.index(current) + 1) % len(keys)]
            self.table.sort_key = None
            self.table.sort_by(nxt)
        else:
            self.table.sort_by(current if current in keys else keys[0])
        self.notify(f"sorted by {self.table.sort_key}"
                    f"{' (desc)' if self.table.sort_reverse else ''}", timeout=1.5)

    def action_cursor(self, where: str) -> None:
        table = self.table
        if where == "down":
            table.action_cursor_down()
        elif where == "up":
            table.action_cursor_up()
        elif where == "top":
            table.move_cursor(row=0)
        elif where == "bottom":
            table.move_cursor(row=max(table.row_count - 1, 0))

    def action_copy_id(self) -> None:
        key = self.table.current_key
        if key is not None:
            # OSC 52: reaches the local clipboard even over SSH
            self.app.copy_to_clipboard(key)
            self.notify(f"copied {key}", timeout=1.5)
