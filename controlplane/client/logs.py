"""Reading task logs for the HTTP API, across rotated files: a task stream is
`<task>.<stream>.<N>` in the allocation's log directory (drivers write it
through drivers.logrotate.RotatingLog), N growing by one per rotation and
the oldest files pruned. Also Nomad's StreamFrame encoding. Never writes,
rotates or prunes logs.

Where reading starts (Nomad's fs logs API, `findClosest`):

    origin=start, offset=k   k bytes into the stream counted from the start
                             of the oldest file still there, across files
    origin=end,   offset=k   k bytes before the end of the newest file,
                             counted backwards across files; k = 0 means the
                             start of the newest file, exactly as Nomad

An offset past either end clamps to it. Without `follow`, reading stops at
the end of the newest file that existed when reading started; with it,
reading moves from `.N` to the next file once the writer has, and a file
pruned before it was reached is skipped.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import msgspec

from controlplane.drivers.logrotate import log_indexes

Origin = Literal["start", "end"]
STREAMS = ("stdout", "stderr")
MAX_FRAME_BYTES = 64 * 1024
HEARTBEAT_FRAME = b"{}"

StopSignal = threading.Event | Callable[[], bool]


def safe_task_name(task: str) -> bool:
    """Whether `task` names a file inside the log directory and nothing else:
    no separator, NUL or dot name can climb out of it (job validation refuses
    such task names too; this guards what arrives in a URL)."""
    return bool(task) and task not in (".", "..") and not any(c in task for c in "/\\\x00")


def log_file_name(task: str, stream: str, index: int = 0) -> str:
    """`web.stdout.0`: Nomad's on-disk name of a task's log file."""
    if stream not in STREAMS:
        raise ValueError(f"log type must be stdout or stderr, not {stream!r}")
    if not safe_task_name(task):
        raise ValueError(f"invalid task name {task!r}")
    return f"{task}.{stream}.{index}"


def start_offset(size: int, origin: Origin, offset: int) -> int:
    """Absolute byte position for `offset` relative to `origin`, clamped to the file."""
    if origin not in ("start", "end"):
        raise ValueError(f"origin must be start or end, not {origin!r}")
    offset = max(0, offset)
    pos = offset if origin == "start" else size - offset
    return min(max(0, pos), size)


def read_logs(path: Path | str, origin: Origin = "start", offset: int = 0) -> bytes:
    """The bytes of one file from `offset` relative to `origin` to its end.

    A log file that does not exist yet (task not started) reads as empty.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(start_offset(size, origin, offset))
            return f.read()
    except FileNotFoundError:
        return b""


def closest(files: list[tuple[int, int]], origin: Origin, offset: int) -> tuple[int, int]:
    """(index, position in that file) where reading starts; `files` are
    (index, size) pairs in ascending index order, at least one."""
    if origin not in ("start", "end"):
        raise ValueError(f"origin must be start or end, not {origin!r}")
    offset = max(0, offset)
    if origin == "start":
        i = 0
        while offset > files[i][1]:
            if i == len(files) - 1:
                return files[i][0], files[i][1]
            offset -= files[i][1]
            i += 1
        return files[i][0], offset
    i, back = len(files) - 1, offset
    while back:
        size = files[i][1]
        if size - back >= 0:
            return files[i][0], size - back
        if i == 0:
            return files[0][0], 0
        back -= size
        i -= 1
    return files[i][0], 0


class LogChunk(NamedTuple):
    file: str  # name of the file the bytes came from: `web.stdout.3`
    offset: int  # position in `file` after `data` (a StreamFrame's Offset)
    data: bytes


class TaskLogReader:
    """Non-blocking reader of one task stream across its rotated files.

    `read()` returns the next chunk available now, or None; `finished` turns
    True when a non-following reader has read everything. The caller decides
    how long to wait between reads (async or threaded).
    """

    def __init__(
        self,
        directory: Path | str,
        task: str,
        stream: str,
        origin: Origin = "start",
        offset: int = 0,
        follow: bool = False,
        chunk_size: int = MAX_FRAME_BYTES,
    ) -> None:
        self.directory = str(directory)
        self.base = log_file_name(task, stream).rpartition(".")[0]
        if origin not in ("start", "end"):
            raise ValueError(f"origin must be start or end, not {origin!r}")
        self.origin: Origin = origin
        self.offset = offset
        self.follow = follow
        self.chunk_size = chunk_size
        self.finished = False
        self._index: int | None = None  # None until a file exists
        self._pos = 0
        self._last = -1  # without follow: the newest index when reading started

    def _name(self, index: int) -> str:
        return f"{self.base}.{index}"

    def _path(self, index: int) -> str:
        return os.path.join(self.directory, self._name(index))

    def _indexes(self) -> list[int]:
        return log_indexes(self.directory, self.base)

    def _locate(self) -> bool:
        files = []
        for index in self._indexes():
            try:
                files.append((index, os.stat(self._path(index)).st_size))
            except FileNotFoundError:
                continue  # pruned while listing
        if not files:
            return False
        self._index, self._pos = closest(files, self.origin, self.offset)
        self._last = files[-1][0]
        return True

    def _read_current(self) -> bytes | None:
        """Bytes of the current file from the position; None when it is gone."""
        assert self._index is not None
        try:
            with open(self._path(self._index), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._pos:  # truncated under us: start it over
                    self._pos = 0
                f.seek(self._pos)
                return f.read(self.chunk_size)
        except FileNotFoundError:
            return None

    def read(self) -> LogChunk | None:
        if self.finished:
            return None
        if self._index is None and not self._locate():
            self.finished = not self.follow  # no log yet: nothing to read
            return None
        assert self._index is not None
        while True:
            data = self._read_current()
            if data:
                self._pos += len(data)
                return LogChunk(self._name(self._index), self._pos, data)
            if not self.follow and self._index >= self._last:
                self.finished = True
                return None
            newer = [i for i in self._indexes() if i > self._index]
            if not newer:
                return None  # following the newest file: wait for more
            # The writer finished this file before it created the next one;
            # read once more for bytes written since the read above.
            if data is not None:
                late = self._read_current()
                if late:
                    self._pos += len(late)
                    return LogChunk(self._name(self._index), self._pos, late)
            self._index, self._pos = newer[0], 0


def _stopped(stop: StopSignal) -> bool:
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


def follow_logs(
    reader: TaskLogReader,
    stop: StopSignal,
    poll: float = 0.1,
    idle_s: float | None = None,
) -> Iterator[LogChunk]:
    """Chunks from `reader` as they appear, until `stop` (or, for a reader
    without follow, its end). With `idle_s`, yields an empty chunk after that
    long without data so a streaming caller can send a heartbeat frame."""
    last_data = time.monotonic()
    while not _stopped(stop):
        chunk = reader.read()
        if chunk is not None:
            last_data = time.monotonic()
            yield chunk
            continue
        if reader.finished:
            return
        if idle_s is not None and time.monotonic() - last_data >= idle_s:
            last_data = time.monotonic()
            yield LogChunk("", 0, b"")
        if isinstance(stop, threading.Event):
            stop.wait(poll)
        else:
            time.sleep(poll)


class _Frame(msgspec.Struct, omit_defaults=True):
    Offset: int = 0
    Data: str = ""
    File: str = ""
    FileEvent: str = ""


_encoder = msgspec.json.Encoder()


def frame(data: bytes, offset: int, file: str, file_event: str = "") -> bytes:
    """One StreamFrame: `{"Offset":..,"Data":"<base64>","File":..}`, empty fields omitted.

    Nomad sets `Offset` to the file position *after* `data`; callers pass that.
    """
    return _encoder.encode(
        _Frame(
            Offset=offset,
            Data=base64.b64encode(data).decode("ascii") if data else "",
            File=file,
            FileEvent=file_event,
        )
    )


def frames(data: bytes, end_offset: int, file: str) -> Iterator[bytes]:
    """Split `data` (ending at `end_offset`) into frames of at most 64 KiB."""
    begin = end_offset - len(data)
    for i in range(0, len(data), MAX_FRAME_BYTES):
        part = data[i : i + MAX_FRAME_BYTES]
        yield frame(part, begin + i + len(part), file)
