"""LogsScreen: one task's stdout or stderr, followed live.

A LogStream thread reads the log and posts LogsReady when text waits in its
bounded buffer; the screen drains it at most a few times a second into a
LogView capped at MAX_LINES lines, so a chatty task never freezes the UI.
Follow is on by default and pauses when the user scrolls up. Leaving the
screen stops the stream (its socket is shut down at once).
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from controlplane.errors import NomadError
from nomadtui.client import NomadClient

from ..widgets.log_view import LogView
from .base import ConsoleScreen, ContextBar
from .logs_stream import LogStream

MAX_LINES = 5000
FLUSH_S = 0.25
"""Minimum time between two UI updates from the stream (throttle)."""


class LogsReady(Message):
    """Text is waiting in `stream`'s buffer."""

    def __init__(self, stream: LogStream) -> None:
        super().__init__()
        self.stream = stream


class LogsStatus(Message):
    """`stream`'s connection changed (connecting, streaming, error ...)."""

    def __init__(self, stream: LogStream, status: str) -> None:
        super().__init__()
        self.stream = stream
        self.status = status


def default_log_path(alloc_id: str, task: str, stream: str) -> str:
    return f"./{alloc_id[:8]}-{task}.{stream}.log"


class LogsScreen(ConsoleScreen):
    VIEW_TITLE = "Logs"
    DEFAULT_CSS = """
    LogsScreen #status {
        height: 1; background: $panel; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    LogsScreen #status.paused { background: $warning 40%; }
    LogsScreen Input { dock: bottom; margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("e", "stream('stderr')", "stderr", id="logs.stderr"),
        Binding("o", "stream('stdout')", "stdout", id="logs.stdout"),
        # f and w are named in the status line: the footer has no room at 80 columns
        Binding("f", "follow", "Follow", show=False, id="logs.follow"),
        Binding("slash", "search", "Search", key_display="/", id="logs.search"),
        Binding("n", "find(True)", "Next match", show=False, id="logs.next"),
        Binding("N", "find(False)", "Prev match", show=False, id="logs.prev"),
        Binding("w", "wrap", "Wrap", show=False, id="logs.wrap"),
        Binding("s", "save", "Save", id="logs.save"),
        Binding("g", "top", "Top", show=False, id="logs.top"),
        Binding("G", "bottom", "Bottom", show=False, id="logs.bottom"),
        Binding("j", "scroll(1)", "Down", show=False, id="logs.down"),
        Binding("k", "scroll(-1)", "Up", show=False, id="logs.up"),
    ]

    def __init__(self, alloc_id: str, task: str, stream: str = "stdout") -> None:
        super().__init__()
        self.alloc_id = alloc_id
        self.task_name = task
        self.stream_type = stream
        self.log_stream: LogStream | None = None
        self.connection = "connecting"
        self._flush_timer: Timer | None = None
        self._last_flush = 0.0

    def context_text(self) -> str:
        return f"Logs {self.alloc_id[:8]} {self.task_name} {self.stream_type}"

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield LogView(max_lines=MAX_LINES, id="log")
        yield Static(id="status")
        yield Input(placeholder="search (enter: find, esc: close)", id="search",
                    classes="hidden")
        yield Input(placeholder="save to file", id="save", classes="hidden")
        yield Footer()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.start_watches()
        self.view.focus()
        self.update_status()

    # -- the stream --------------------------------------------------------
    def start_watches(self) -> None:
        self._stop_stream()
        stream = LogStream(
            self.client.config, self.alloc_id, self.task_name, self.stream_type,
            on_ready=lambda: self.post_message(LogsReady(stream)),
            on_status=lambda status: self.post_message(LogsStatus(stream, status)),
        )
        self.log_stream = stream.start()

    def _stop_stream(self) -> None:
        if self.log_stream is not None:
            self.log_stream.stop()
            self.log_stream = None
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None

    def on_unmount(self) -> None:
        # (ConsoleScreen.on_unmount runs too: Textual calls each class's handler)
        self._stop_stream()

    def refresh_data(self) -> None:
        self.view.clear()
        self.start_watches()

    def on_logs_ready(self, message: LogsReady) -> None:
        if message.stream is not self.log_stream or self._flush_timer is not None:
            return
        # (a zero-delay Textual timer divides by zero)
        delay = max(self._last_flush + FLUSH_S - time.monotonic(), 0.01)
        self._flush_timer = self.set_timer(delay, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        self._last_flush = time.monotonic()
        if self.log_stream is None:
            return
        text = self.log_stream.buffer.take()
        if text:
            self.view.append(text)
            self.update_status()

    def on_logs_status(self, message: LogsStatus) -> None:
        if message.stream is self.log_stream:
            self.connection = message.status
            self.update_status()

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        self.update_status()

    def update_status(self) -> None:
        view = self.view
        parts = ["following" if view.following else "paused (f: follow)",
                 self.stream_type, f"{view.line_count:,} lines"]
        if view.dropped:
            parts.append(f"{view.dropped:,} older dropped")
        parts.append(f"wrap {'on' if view.wrap else 'off'} (w)")
        if view.search:
            parts.append(f"/{view.search} {view.match_index()}/{view.match_count()} (n/N)")
        if self.connection != "streaming":
            parts.append(self.connection)
        status = self.query_one("#status", Static)
        status.update("  ".join(parts))
        status.set_class(not view.following, "paused")

    # -- actions -----------------------------------------------------------
    def action_applicable(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stream":
            return parameters[0] != self.stream_type
        return True

    def action_stream(self, stream: str) -> None:
        if stream == self.stream_type:
            return
        self.stream_type = stream
        self.view.clear()
        self.view.set_following(True)
        self.connection = "connecting"
        self.start_watches()
        self.refresh_bindings()
        self.console.update_context()
        self.update_status()

    def action_follow(self) -> None:
        self.view.set_following(True)
        self.update_status()

    def action_top(self) -> None:
        self.view.scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.view.set_following(True)

    def action_scroll(self, rows: int) -> None:
        self.view.scroll_to(y=self.view.scroll_y + rows, animate=False)

    def action_wrap(self) -> None:
        self.view.set_wrap(not self.view.wrap)
        self.update_status()

    def action_search(self) -> None:
        self._open_input("search", self.view.search)

    def action_find(self, forward: bool) -> None:
        if not self.view.search:
            self.action_search()
            return
        if not self.view.find(forward):
            self.notify(f"no match for {self.view.search!r}", severity="warning", timeout=2)
        self.update_status()

    def action_save(self) -> None:
        self._open_input("save", default_log_path(self.alloc_id, self.task_name, self.stream_type))

    def _open_input(self, name: str, value: str) -> None:
        for box in self.query(Input):
            box.add_class("hidden")
        box = self.query_one(f"#{name}", Input)
        box.value = value
        box.remove_class("hidden")
        box.focus()

    def _close_inputs(self) -> None:
        for box in self.query(Input):
            box.add_class("hidden")
        self.view.focus()

    def key_escape(self) -> bool:
        if any(not box.has_class("hidden") for box in self.query(Input)):
            self._close_inputs()
            return True
        return False

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            self.view.set_search(event.value)
            self.update_status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close_inputs()
        if event.input.id == "search" and event.value:
            self.action_find(True)
        elif event.input.id == "save" and event.value.strip():
            self.save_log(event.value.strip())

    @work(thread=True, group="save")
    def save_log(self, path: str) -> None:
        """Write the whole log (not only the lines kept on screen) to `path`."""
        client = self.client
        target = Path(path).expanduser()
        try:
            size = _download(client, self.alloc_id, self.task_name, self.stream_type, target)
        except (NomadError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, f"save failed: {exc}", severity="error", timeout=6)
            return
        self.app.call_from_thread(self.notify, f"saved {size:,} bytes to {target}", timeout=4)


def _download(client: NomadClient, alloc_id: str, task: str, stream: str, target: Path) -> int:
    size = 0
    with target.open("wb") as out:
        for frame in client.stream_logs(alloc_id, task, stream, follow=False):
            out.write(frame.data)
            size += len(frame.data)
    return size
