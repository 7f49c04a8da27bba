"""The TaskState of one task: its state value, timestamps, restart count and
last events (at most MAX_EVENTS, as Nomad keeps). Thread-safe; every change
replaces the frozen TaskState and is reported through `on_change`. Holds no
task logic: the task runner decides what happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from controlplane.structs import TaskEvent, TaskState
from controlplane.structs.consts import TaskStateValue

from .wiretime import rfc3339, unix_nanos

MAX_EVENTS = 10


class TaskStateKeeper:
    def __init__(
        self,
        name: str,
        on_change: Callable[[str], None],
        clock: Callable[[], float],
        state: TaskState | None = None,
    ) -> None:
        self.name = name
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._state = state if state is not None else TaskState(state=TaskStateValue.PENDING)

    @property
    def state(self) -> TaskState:
        with self._lock:
            return self._state

    def load(self, state: TaskState) -> None:
        """Start from a persisted state (a restored task); reports nothing."""
        with self._lock:
            self._state = state

    def notify(self) -> None:
        """Report without a change (the runner finished)."""
        self._on_change(self.name)

    def now_ns(self) -> int:
        return unix_nanos(self._clock())

    def now_rfc3339(self) -> str:
        return rfc3339(self._clock())

    def event(self, type_: str, message: str = "", **fields: Any) -> TaskEvent:
        """A TaskEvent stamped now; `display_message` defaults to `message`."""
        return TaskEvent(
            type=type_,
            time=self.now_ns(),
            message=message,
            display_message=fields.pop("display_message", message),
            **fields,
        )

    def emit(self, event: TaskEvent, **changes: Any) -> None:
        """Append `event` and apply `changes` (TaskState fields) in one step."""
        with self._lock:
            events = [*(self._state.events or []), event][-MAX_EVENTS:]
            self._state = self._state.replace(events=events, **changes)
        self._on_change(self.name)

    def set(self, **changes: Any) -> None:
        with self._lock:
            self._state = self._state.replace(**changes)
        self._on_change(self.name)

    def restarted(self, event: TaskEvent) -> None:
        """`event` ("Restarting"), back to pending, one more restart counted."""
        with self._lock:
            restarts = self._state.restarts + 1
        self.emit(
            event,
            state=TaskStateValue.PENDING,
            restarts=restarts,
            last_restart=self.now_rfc3339(),
        )

    def running(self, event: TaskEvent) -> None:
        """`event` ("Started"); StartedAt is set on the first start only."""
        changes: dict[str, Any] = {"state": TaskStateValue.RUNNING}
        with self._lock:
            if self._state.started_at is None:
                changes["started_at"] = self.now_rfc3339()
        self.emit(event, **changes)

    def finish(self, failed: bool, event: TaskEvent | None = None) -> None:
        """Dead for good (failed or not), with FinishedAt, after `event` if any."""
        changes: dict[str, Any] = {
            "state": TaskStateValue.DEAD,
            "failed": failed,
            "finished_at": self.now_rfc3339(),
        }
        if event is not None:
            self.emit(event, **changes)
        else:
            self.set(**changes)
