"""Task log reading, following and StreamFrame encoding."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import msgspec
import pytest

from controlplane.client.logs import (
    HEARTBEAT_FRAME,
    MAX_FRAME_BYTES,
    follow_logs,
    frame,
    frames,
    log_file_name,
    read_logs,
)


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "web.stdout.0"
    path.write_bytes(b"0123456789")
    return path


def test_read_from_start_and_end(log_file: Path) -> None:
    assert read_logs(log_file) == b"0123456789"
    assert read_logs(log_file, "start", 4) == b"456789"
    assert read_logs(log_file, "end", 3) == b"789"
    assert read_logs(log_file, "end", 0) == b""
    # offsets past either end clamp to the file
    assert read_logs(log_file, "end", 100) == b"0123456789"
    assert read_logs(log_file, "start", 100) == b""


def test_read_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_logs(tmp_path / "nope.stdout.0") == b""


def test_bad_origin_rejected(log_file: Path) -> None:
    with pytest.raises(ValueError):
        read_logs(log_file, "middle", 0)  # type: ignore[arg-type]


def test_log_file_name() -> None:
    assert log_file_name("web", "stderr") == "web.stderr.0"
    with pytest.raises(ValueError):
        log_file_name("web", "stdin")


def test_follow_yields_growth_until_stopped(log_file: Path) -> None:
    stop = threading.Event()
    gen = follow_logs(log_file, 4, stop, poll=0.01)

    assert next(gen) == b"456789"
    with log_file.open("ab") as f:
        f.write(b"abc")
    assert next(gen) == b"abc"

    stop.set()
    assert list(gen) == []


def test_follow_waits_for_file_and_honours_callable_stop(tmp_path: Path) -> None:
    path = tmp_path / "late.stdout.0"
    stopped = False
    gen = follow_logs(path, 0, lambda: stopped, poll=0.01, idle_s=0.02)

    # no file yet: an idle heartbeat marker comes first
    assert next(gen) == b""
    path.write_bytes(b"hello")
    chunk = next(gen)
    while chunk == b"":
        chunk = next(gen)
    assert chunk == b"hello"
    stopped = True
    assert [c for c in gen if c] == []


def test_follow_restarts_after_truncation(log_file: Path) -> None:
    stop = threading.Event()
    gen = follow_logs(log_file, 0, stop, poll=0.01)
    assert next(gen) == b"0123456789"
    log_file.write_bytes(b"new")
    assert next(gen) == b"new"
    stop.set()


def test_follow_splits_large_reads(log_file: Path) -> None:
    log_file.write_bytes(b"x" * (MAX_FRAME_BYTES + 10))
    stop = threading.Event()
    gen = follow_logs(log_file, 0, stop, poll=0.01)
    assert len(next(gen)) == MAX_FRAME_BYTES
    assert len(next(gen)) == 10
    stop.set()


def test_frame_encoding() -> None:
    raw = frame(b"hello\n", 6, "alloc/logs/web.stdout.0")
    decoded = json.loads(raw)
    assert decoded == {
        "Offset": 6,
        "Data": base64.b64encode(b"hello\n").decode(),
        "File": "alloc/logs/web.stdout.0",
    }
    assert json.loads(frame(b"", 0, "", file_event="file truncated")) == {
        "FileEvent": "file truncated"
    }
    assert HEARTBEAT_FRAME == b"{}"


def test_frames_split_and_carry_end_offsets() -> None:
    data = b"a" * MAX_FRAME_BYTES + b"bc"
    out = [json.loads(f) for f in frames(data, 100 + len(data), "alloc/logs/t.stderr.0")]
    assert [o["Offset"] for o in out] == [100 + MAX_FRAME_BYTES, 100 + len(data)]
    assert b"".join(base64.b64decode(o["Data"]) for o in out) == data
    # concatenated frames decode with a streaming decoder as the Go client does
    stream = b"".join(frames(b"xy", 2, "f"))
    assert msgspec.json.decode(stream) == {"Offset": 2, "Data": "eHk=", "File": "f"}
