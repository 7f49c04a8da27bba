"""Reading task log files for the HTTP API: one-shot reads by origin/offset,
a follower that yields new bytes as the file grows, and Nomad's StreamFrame
encoding. Never writes logs (drivers do) and does not rotate them yet.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import msgspec

Origin = Literal["start", "end"]
STREAMS = ("stdout", "stderr")
MAX_FRAME_BYTES = 64 * 1024
HEARTBEAT_FRAME = b"{}"

StopSignal = threading.Event | Callable[[], bool]


def log_file_name(task: str, stream: str, index: int = 0) -> str:
    """`web.stdout.0`: Nomad's on-disk name of a task's log file."""
    if stream not in STREAMS:
        raise ValueError(f"log type must be stdout or stderr, not {stream!r}")
    return f"{task}.{stream}.{index}"


def start_offset(size: int, origin: Origin, offset: int) -> int:
    """Absolute byte position for `offset` relative to `origin`, clamped to the file."""
    if origin not in ("start", "end"):
        raise ValueError(f"origin must be start or end, not {origin!r}")
    offset = max(0, offset)
    pos = offset if origin == "start" else size - offset
    return min(max(0, pos), size)


def read_logs(path: Path | str, origin: Origin = "start", offset: int = 0) -> bytes:
    """The bytes of `path` from `offset` relative to `origin` to its end.

    A log file that does not exist yet (task not started) reads as empty.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(start_offset(size, origin, offset))
            return f.read()
    except FileNotFoundError:
        return b""


def _stopped(stop: StopSignal) -> bool:
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


def follow_logs(
    path: Path | str,
    offset: int,
    stop: StopSignal,
    poll: float = 0.1,
    chunk_size: int = MAX_FRAME_BYTES,
    idle_s: float | None = None,
) -> Iterator[bytes]:
    """Yield chunks of `path` from absolute `offset` on, as it grows, until `stop`.

    Waits for the file to appear. If the file shrinks below the read position
    (truncated) reading restarts at 0. With `idle_s`, yields `b""` after that
    long without data so a streaming caller can send a heartbeat frame.
    The caller tracks the position: each chunk advances it by its length.
    """
    pos = max(0, offset)
    last_data = time.monotonic()
    f = None
    try:
        while not _stopped(stop):
            if f is None:
                try:
                    f = open(path, "rb")  # noqa: SIM115 - kept open across yields
                except FileNotFoundError:
                    f = None
            data = b""
            if f is not None:
                size = os.fstat(f.fileno()).st_size
                if size < pos:
                    pos = 0
                if size > pos:
                    f.seek(pos)
                    data = f.read(chunk_size)
            if data:
                pos += len(data)
                last_data = time.monotonic()
                yield data
                continue
            if idle_s is not None and time.monotonic() - last_data >= idle_s:
                last_data = time.monotonic()
                yield b""
            if isinstance(stop, threading.Event):
                stop.wait(poll)
            else:
                time.sleep(poll)
    finally:
        if f is not None:
            f.close()


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
