"""Rotating task log files, as Nomad's logmon writes them.

A task's stream goes to `<task>.<stream>.<N>` in the allocation's log
directory. When the current file reaches `max_file_size` bytes the writer
moves on to index N+1 and deletes the oldest files so that at most
`max_files` remain. Indexes only grow, so a reader that follows index N knows
the next bytes are in N+1. A writer opened on a directory that already holds
files (a restarted task, a restarted client) appends to the newest one.

Owns only writing and pruning; reading (and following across rotations) is
controlplane.client.logs. Not thread-safe: one writer per stream.
"""

from __future__ import annotations

import contextlib
import os
import re

MIB = 1024 * 1024


def split_log_path(first_path: str) -> tuple[str, str]:
    """`/a/logs/web.stdout.0` -> (`/a/logs`, `web.stdout`)."""
    directory, name = os.path.split(first_path)
    base, dot, index = name.rpartition(".")
    if not dot or not index.isdigit():
        raise ValueError(f"log path must end in .<index>: {first_path!r}")
    return directory, base


def log_indexes(directory: str, base: str) -> list[int]:
    """Indexes of the existing `<base>.<N>` files in `directory`, ascending."""
    pattern = re.compile(re.escape(base) + r"\.(\d+)$")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for n in names if (m := pattern.match(n)))


class RotatingLog:
    """Append-only writer of one task stream with size-based rotation."""

    def __init__(self, first_path: str, max_files: int = 10, max_file_size_mb: int = 10) -> None:
        self.directory, self.base = split_log_path(first_path)
        self.max_files = max(1, max_files)
        self.max_bytes = max(1, max_file_size_mb) * MIB
        os.makedirs(self.directory, exist_ok=True)
        existing = log_indexes(self.directory, self.base)
        self.index = existing[-1] if existing else 0
        self._fd = -1
        self._size = 0
        self._open()

    @property
    def path(self) -> str:
        return os.path.join(self.directory, f"{self.base}.{self.index}")

    def write(self, data: bytes) -> None:
        """Write `data`, splitting it across files at the size limit."""
        view = memoryview(data)
        while view:
            room = self.max_bytes - self._size
            if room <= 0:
                self._rotate()
                continue
            chunk = view[:room]
            written = os.write(self._fd, chunk)
            self._size += written
            view = view[written:]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RotatingLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        self.close()
        self.index += 1
        self._open()
        self._prune()

    def _prune(self) -> None:
        for index in log_indexes(self.directory, self.base)[: -self.max_files]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.directory, f"{self.base}.{index}"))
