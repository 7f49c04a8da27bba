"""Local client state, so a restarted client can take its allocations over:
per allocation, the Allocation as last seen, each task's TaskState and the
TaskHandle of each running task, in `<client_dir>/allocs/<alloc_id>.json`.

Writes are atomic (temp file + rename) and go straight to the OS, so a
client killed with SIGKILL loses nothing it had written. Holds no other
state and makes no decisions: the agent restores from `allocs()`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

import msgspec

from controlplane.drivers.base import TaskHandle
from controlplane.structs import Allocation, TaskState

log = logging.getLogger(__name__)

SUFFIX = ".json"


class LocalAlloc(msgspec.Struct):
    """What the client knows about one of its allocations."""

    version: int = 1
    alloc: Allocation | None = None
    task_states: dict[str, TaskState] = msgspec.field(default_factory=dict)
    handles: dict[str, TaskHandle] = msgspec.field(default_factory=dict)


class StateDB:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._allocs: dict[str, LocalAlloc] = self._read_all()
        # destroyed allocations: late writes (a task's last handle) are dropped
        self._deleted: set[str] = set()

    def _read_all(self) -> dict[str, LocalAlloc]:
        found: dict[str, LocalAlloc] = {}
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return found
        for name in names:
            if not name.endswith(SUFFIX):
                continue
            path = self.directory / name
            try:
                found[name[: -len(SUFFIX)]] = msgspec.json.decode(
                    path.read_bytes(), type=LocalAlloc
                )
            except (OSError, msgspec.DecodeError) as exc:
                log.warning("ignoring unreadable client state path=%s: %s", path, exc)
        return found

    def _write(self, alloc_id: str) -> None:
        """Under _lock: persist one allocation's state."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{alloc_id}{SUFFIX}"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(self._allocs[alloc_id]))
        os.replace(tmp, path)

    def _entry(self, alloc_id: str) -> LocalAlloc | None:
        if alloc_id in self._deleted:
            return None
        return self._allocs.setdefault(alloc_id, LocalAlloc())

    def put_alloc(self, alloc: Allocation) -> None:
        with self._lock:
            entry = self._entry(alloc.id)
            if entry is not None:
                entry.alloc = alloc
                self._write(alloc.id)

    def put_task_states(self, alloc_id: str, states: dict[str, TaskState]) -> None:
        with self._lock:
            entry = self._entry(alloc_id)
            if entry is not None and entry.task_states != states:
                entry.task_states = dict(states)
                self._write(alloc_id)

    def put_handle(self, alloc_id: str, task: str, handle: TaskHandle | None) -> None:
        """Record (or with None, forget) the handle of one task."""
        with self._lock:
            entry = self._entry(alloc_id)
            if entry is None:
                return
            if handle is None:
                if entry.handles.pop(task, None) is None:
                    return
            else:
                entry.handles[task] = handle
            self._write(alloc_id)

    def delete_alloc(self, alloc_id: str) -> None:
        with self._lock:
            self._deleted.add(alloc_id)
            self._allocs.pop(alloc_id, None)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / f"{alloc_id}{SUFFIX}")

    def allocs(self) -> dict[str, LocalAlloc]:
        """Every allocation with a known Allocation, by id (copies)."""
        with self._lock:
            return {
                aid: LocalAlloc(
                    alloc=e.alloc, task_states=dict(e.task_states), handles=dict(e.handles)
                )
                for aid, e in self._allocs.items()
                if e.alloc is not None
            }

    def handles(self) -> dict[str, dict[str, TaskHandle]]:
        with self._lock:
            return {a: dict(e.handles) for a, e in self._allocs.items() if e.handles}
