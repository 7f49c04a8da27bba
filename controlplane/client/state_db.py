"""Local client state: the TaskHandles of running tasks, per allocation, in
`<data_dir>/client/state.json`, so a restarted client can reattach to its
tasks. Writes are atomic (temp file + rename); holds no other state.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import msgspec

from controlplane.drivers.base import TaskHandle

log = logging.getLogger(__name__)


class _Snapshot(msgspec.Struct):
    version: int = 1
    # alloc id -> task name -> handle
    handles: dict[str, dict[str, TaskHandle]] = msgspec.field(default_factory=dict)


class StateDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._handles = self._read()

    def _read(self) -> dict[str, dict[str, TaskHandle]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            return msgspec.json.decode(raw, type=_Snapshot).handles
        except msgspec.DecodeError as exc:
            log.warning("ignoring unreadable client state path=%s: %s", self.path, exc)
            return {}

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(_Snapshot(handles=self._handles)))
        os.replace(tmp, self.path)

    def put_handle(self, alloc_id: str, task: str, handle: TaskHandle | None) -> None:
        """Record (or with None, forget) the handle of one task."""
        with self._lock:
            tasks = self._handles.setdefault(alloc_id, {})
            if handle is None:
                tasks.pop(task, None)
                if not tasks:
                    del self._handles[alloc_id]
            else:
                tasks[task] = handle
            self._write()

    def delete_alloc(self, alloc_id: str) -> None:
        with self._lock:
            if self._handles.pop(alloc_id, None) is not None:
                self._write()

    def handles(self) -> dict[str, dict[str, TaskHandle]]:
        with self._lock:
            return {a: dict(t) for a, t in self._handles.items()}
