"""Events: the live `/v1/event/stream` feed — time, topic, type, key, index.

An EventStream thread posts batches; the screen buffers them and appends to
the table at most a few times a second, keeping the last HISTORY events.
`t` cycles the topic filter (Job / Evaluation / Allocation / Deployment /
Node / all) and reconnects with `?topic=` after the last index seen; `enter`
opens the event's object. A server without the endpoint is said so on screen
and retried slowly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Input, Static

from ..widgets.resource_table import Column, ResourceTable, Row
from .base import ContextBar, ResourceScreen
from .events_stream import EventStream, StreamStatus

HISTORY = 1000
FLUSH_S = 0.2
TOPICS: tuple[str | None, ...] = ("Job", "Evaluation", "Allocation", "Deployment", "Node", None)
TOPIC_STYLE = {
    "Job": "cyan",
    "Evaluation": "magenta",
    "Allocation": "green",
    "Deployment": "yellow",
    "Node": "blue",
}
OPENERS = {
    "Job": "open_job",
    "Allocation": "open_alloc",
    "Node": "open_node",
    "Deployment": "open_deployment",
    "Evaluation": "open_eval",
}


class EventsReceived(Message):
    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.events = events


class StreamStatusChanged(Message):
    def __init__(self, status: str, detail: str) -> None:
        super().__init__()
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class FeedEvent:
    seq: str
    at: datetime
    topic: str
    type: str
    key: str
    namespace: str
    index: int

    def row(self) -> Row:
        key = self.key[:8] if _is_uuid(self.key) else self.key
        return (
            self.seq,
            (
                self.at.strftime("%H:%M:%S"),
                Text(self.topic, style=TOPIC_STYLE.get(self.topic, "")),
                self.type,
                key,
                str(self.index),
                self.namespace,
            ),
        )


def event_time(event: dict[str, Any], received: datetime) -> datetime:
    """When the change happened, from the payload object's own clock (ModifyTime /
    SubmitTime in ns, Node StatusUpdatedAt in s) — a replayed backlog would
    otherwise all show the moment of connecting."""
    for obj in (event.get("Payload") or {}).values():
        if not isinstance(obj, dict):
            continue
        for key, scale in (("ModifyTime", 1e9), ("SubmitTime", 1e9), ("StatusUpdatedAt", 1)):
            value = obj.get(key)
            if isinstance(value, int | float) and value > 0:
                return datetime.fromtimestamp(value / scale).astimezone()
    return received


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


class EventTable(ResourceTable):
    """A ResourceTable that appends (and drops the oldest) without redrawing."""

    def append_rows(self, new: Sequence[Row], dropped: Sequence[str]) -> None:
        follow = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        gone = set(dropped)
        self._rows = [r for r in self._rows if r[0] not in gone] + list(new)
        if self.sort_key is not None or not self.shown:
            self._render_rows(force=True)
        else:
            present = {str(k.value) for k in self.rows}
            for key in dropped:
                if key in present:
                    self.remove_row(key)
            needle = self.filter_text
            for key, cells in new:
                plain = " ".join(c.plain if isinstance(c, Text) else str(c) for c in cells)
                if not needle or needle in plain.lower():
                    self.add_row(*self._cells(cells), key=key)
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1)


class EventsScreen(ResourceScreen):
    VIEW_TITLE = "Events"
    SOURCE = "events"
    DEFAULT_CSS = """
    EventsScreen #stream-status { height: 1; padding: 0 1; background: $boost; }
    EventsScreen #stream-status.error { background: $error 40%; }
    """
    COLUMNS = (
        Column("time", "Time", width=8),
        Column("topic", "Topic", width=10),
        Column("type", "Type", width=24),
        Column("key", "Key", width=18),
        Column("index", "Index", width=6, priority=1),
        Column("namespace", "Namespace", width=10, priority=2),
    )
    BINDINGS = [Binding("t", "cycle_topic", "Topic", id="events.topic")]

    def __init__(self) -> None:
        super().__init__()
        self.topic: str | None = None
        self.history: deque[FeedEvent] = deque(maxlen=HISTORY)
        self.status = StreamStatus.CONNECTING
        self.status_detail = ""
        self.stream: EventStream | None = None
        self._pending: list[FeedEvent] = []
        self._flush_scheduled = False
        self._seq = count(1)

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static(self._status_text(), id="stream-status")
        yield Input(placeholder="filter (esc to clear)", id="filter", classes="hidden")
        yield EventTable(self.COLUMNS, id="table")
        yield Footer()

    # -- the stream --------------------------------------------------------
    def start_watches(self) -> None:
        last = self.stream.last_index if self.stream is not None else 0
        if self.stream is not None:
            self.stream.stop()
        self.stream = EventStream(
            self.client.config,
            self.topic,
            on_events=lambda evs: self._post_feed(EventsReceived(evs)),
            on_status=lambda st, d: self._post_feed(StreamStatusChanged(st, d)),
            start_index=last,
        ).start()

    def _post_feed(self, message: Message) -> None:
        self.post_message(message)

    def restart_watches(self) -> None:
        self.start_watches()

    def refresh_data(self) -> None:
        self.start_watches()

    def on_unmount(self) -> None:
        if self.stream is not None:
            self.stream.stop()

    # -- feed --------------------------------------------------------------
    def on_events_received(self, message: EventsReceived) -> None:
        now = datetime.now().astimezone()
        for e in message.events:
            self._pending.append(
                FeedEvent(
                    seq=str(next(self._seq)),
                    at=event_time(e, now),
                    topic=str(e.get("Topic", "")),
                    type=str(e.get("Type", "")),
                    key=str(e.get("Key", "")),
                    namespace=str(e.get("Namespace", "")),
                    index=int(e.get("Index") or 0),
                )
            )
        if not self._flush_scheduled:
            # heavy churn: draw at most 1 / FLUSH_S times a second
            self._flush_scheduled = True
            self.set_timer(FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending[-HISTORY:], []
        if not pending:
            return
        overflow = max(0, len(self.history) + len(pending) - HISTORY)
        dropped = [self.history[i].seq for i in range(min(overflow, len(self.history)))]
        self.history.extend(pending)
        shown = [e.row() for e in pending if self._matches(e)]
        self.query_one(EventTable).append_rows(shown, dropped)
        self._update_status()

    def _matches(self, event: FeedEvent) -> bool:
        return self.topic is None or event.topic == self.topic

    def on_stream_status_changed(self, message: StreamStatusChanged) -> None:
        self.status, self.status_detail = message.status, message.detail
        self._update_status()
        if message.status == StreamStatus.LIVE:
            self.console.connection_ok()

    def _status_text(self) -> str:
        topic = self.topic or "all"
        kept = f"{len(self.history)} kept"
        if self.status == StreamStatus.LIVE:
            head = "[green]● live[/green]"
        elif self.status == StreamStatus.MISSING:
            head = f"[red]this server has no event stream[/red] ({self.status_detail}); retrying"
        elif self.status == StreamStatus.ERROR:
            head = f"[red]stream error:[/red] {self.status_detail}; reconnecting"
        else:
            head = "[yellow]connecting…[/yellow]"
        return f"{head}  topic: [b]{topic}[/b]  {kept}"

    def _update_status(self) -> None:
        for bar in self.query("#stream-status").results(Static):
            bar.update(self._status_text())
            bar.set_class(self.status in (StreamStatus.MISSING, StreamStatus.ERROR), "error")

    # -- actions -----------------------------------------------------------
    def action_cycle_topic(self) -> None:
        self.topic = TOPICS[(TOPICS.index(self.topic) + 1) % len(TOPICS)]
        self.query_one(EventTable).set_rows([e.row() for e in self.history if self._matches(e)])
        self.start_watches()
        self._update_status()
        self.notify(f"topic: {self.topic or 'all'}", timeout=1.5)

    def open_item(self, key: str) -> None:
        event = next((e for e in self.history if e.seq == key), None)
        if event is None or event.topic not in OPENERS:
            return
        getattr(self.console, OPENERS[event.topic])(event.key)
