"""Task log reading (across rotated files), following and StreamFrame encoding."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from controlplane.client.logs import (
    HEARTBEAT_FRAME,
    MAX_FRAME_BYTES,
    LogChunk,
    TaskLogReader,
    closest,
    follow_logs,
    frame,
    frames,
    log_file_name,
    read_logs,
)
from controlplane.drivers.logrotate import RotatingLog, log_indexes


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


def reader(directory: Path, **kw: Any) -> TaskLogReader:
    return TaskLogReader(directory, "web", "stdout", **kw)


def drain(r: TaskLogReader) -> list[LogChunk]:
    """Every chunk available now."""
    out = []
    while (chunk := r.read()) is not None:
        out.append(chunk)
    return out


def rotated(tmp_path: Path, *contents: bytes, first: int = 0) -> Path:
    """web.stdout.<first>, .<first+1>, ... holding `contents`."""
    for i, data in enumerate(contents, start=first):
        (tmp_path / f"web.stdout.{i}").write_bytes(data)
    return tmp_path


def test_follow_yields_growth_until_stopped(log_file: Path) -> None:
    stop = threading.Event()
    gen = follow_logs(reader(log_file.parent, offset=4, follow=True), stop, poll=0.01)

    assert next(gen) == ("web.stdout.0", 10, b"456789")
    with log_file.open("ab") as f:
        f.write(b"abc")
    assert next(gen) == ("web.stdout.0", 13, b"abc")

    stop.set()
    assert list(gen) == []


def test_follow_waits_for_file_and_honours_callable_stop(tmp_path: Path) -> None:
    stopped = False
    gen = follow_logs(reader(tmp_path, follow=True), lambda: stopped, poll=0.01, idle_s=0.02)

    # no file yet: an idle heartbeat marker comes first
    assert next(gen).data == b""
    (tmp_path / "web.stdout.0").write_bytes(b"hello")
    chunk = next(gen)
    while chunk.data == b"":
        chunk = next(gen)
    assert chunk.data == b"hello"
    stopped = True
    assert [c for c in gen if c.data] == []


def test_without_follow_a_missing_log_reads_as_empty(tmp_path: Path) -> None:
    r = reader(tmp_path)
    assert r.read() is None and r.finished


def test_follow_restarts_after_truncation(log_file: Path) -> None:
    r = reader(log_file.parent, follow=True)
    assert drain(r) == [("web.stdout.0", 10, b"0123456789")]
    log_file.write_bytes(b"new")
    assert drain(r) == [("web.stdout.0", 3, b"new")]


def test_reads_split_into_frames(log_file: Path) -> None:
    log_file.write_bytes(b"x" * (MAX_FRAME_BYTES + 10))
    assert [len(c.data) for c in drain(reader(log_file.parent))] == [MAX_FRAME_BYTES, 10]


def test_offsets_count_across_rotated_files(tmp_path: Path) -> None:
    # the stream is "abcde" "fgh" "ij": .0 was pruned, .1 .. .3 remain
    rotated(tmp_path, b"abcde", b"fgh", b"ij", first=1)

    def text(**kw: Any) -> bytes:
        return b"".join(c.data for c in drain(reader(tmp_path, **kw)))

    assert text() == b"abcdefghij"
    assert text(origin="start", offset=7) == b"hij"
    assert text(origin="start", offset=5) == b"fghij"  # the end of .1 is the start of .2
    assert text(origin="start", offset=100) == b""
    assert text(origin="end", offset=4) == b"ghij"
    assert text(origin="end", offset=2) == b"ij"
    assert text(origin="end", offset=100) == b"abcdefghij"
    # Nomad: offset 0 from the end is the start of the newest file
    assert text(origin="end", offset=0) == b"ij"
    chunks = drain(reader(tmp_path, origin="end", offset=4))
    # each chunk names its file and the position in it after the data
    assert chunks == [("web.stdout.2", 3, b"gh"), ("web.stdout.3", 2, b"ij")]


def test_closest_matches_nomad() -> None:
    files = [(3, 10), (4, 5)]
    assert closest(files, "start", 0) == (3, 0)
    assert closest(files, "start", 10) == (3, 10)
    assert closest(files, "start", 12) == (4, 2)
    assert closest(files, "start", 99) == (4, 5)
    assert closest(files, "end", 0) == (4, 0)
    assert closest(files, "end", 5) == (4, 0)
    assert closest(files, "end", 7) == (3, 8)
    assert closest(files, "end", 99) == (3, 0)


def test_without_follow_reading_stops_at_the_newest_file_seen_first(tmp_path: Path) -> None:
    rotated(tmp_path, b"one\n", b"two\n")
    r = reader(tmp_path)
    first = r.read()
    assert first == ("web.stdout.0", 4, b"one\n")
    (tmp_path / "web.stdout.2").write_bytes(b"later\n")
    assert drain(r) == [("web.stdout.1", 4, b"two\n")]
    assert r.finished


def test_follow_moves_to_the_next_file_and_skips_pruned_ones(tmp_path: Path) -> None:
    rotated(tmp_path, b"a")
    r = reader(tmp_path, follow=True)
    assert drain(r) == [("web.stdout.0", 1, b"a")]
    # the writer appends its last bytes to .0, then rotates to .1
    with (tmp_path / "web.stdout.0").open("ab") as f:
        f.write(b"b")
    rotated(tmp_path, b"c", first=1)
    assert drain(r) == [("web.stdout.0", 2, b"b"), ("web.stdout.1", 1, b"c")]
    # .2 was written and pruned before the reader got to it: on to .3
    rotated(tmp_path, b"d", first=3)
    assert drain(r) == [("web.stdout.3", 1, b"d")]
    assert not r.finished


def test_rotating_writer_and_reader_agree(tmp_path: Path) -> None:
    log = RotatingLog(str(tmp_path / "web.stdout.0"), max_files=3, max_file_size_mb=1)
    got = bytearray()
    r = reader(tmp_path, follow=True, chunk_size=4096)
    payload = bytes(range(256)) * 4096 * 5  # 5 MiB: .0 .. .4, .0 and .1 pruned
    try:
        for i in range(0, len(payload), 100_000):
            log.write(payload[i : i + 100_000])
            got += b"".join(c.data for c in drain(r))
    finally:
        log.close()
    got += b"".join(c.data for c in follow_logs(r, lambda: len(got) >= len(payload), 0.01))
    assert got == payload
    assert log_indexes(str(tmp_path), "web.stdout") == [2, 3, 4]


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
