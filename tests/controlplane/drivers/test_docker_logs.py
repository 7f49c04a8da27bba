"""Copying container output into rotating task logs, and resuming it after a
client restart with no line lost or repeated: the position logic against a
scripted engine, then rotation and a killed client against the real one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import msgspec
import pytest

from controlplane.drivers.base import TaskConfig, TaskHandle
from controlplane.drivers.docker import DockerDriver
from controlplane.drivers.docker_logs import LogFollower, parse_timestamp, position_path
from controlplane.drivers.logrotate import MIB, RotatingLog
from tests.controlplane.drivers.docker_harness import image_config, tracked_driver

MakeConfig = Callable[..., TaskConfig]
T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z


def stamp(ns: int) -> bytes:
    """As the engine writes them: RFC3339 with nine fraction digits."""
    secs, frac = divmod(ns, 1_000_000_000)
    whole = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{frac:09d}Z".encode()


def entry(ns: int, text: bytes) -> bytes:
    return stamp(ns) + b" " + text


class ScriptedEngine:
    """The two Engine API calls a LogFollower makes, over a fixed log.
    `reads` (optional) gives, per logs() call, the entries the engine still
    has; the container runs until the last of them."""

    def __init__(
        self,
        entries: list[tuple[int, bytes]],
        chunk: int = 0,
        reads: list[list[tuple[int, bytes]]] | None = None,
    ) -> None:
        self.entries = entries
        self.chunk = chunk  # >0: a TTY stream, cut into chunks of this size
        self.reads = reads or [entries]
        self.since: list[int | None] = []
        self.follow: list[bool] = []

    def logs(
        self, cid: str, *, since: int | None = None, follow: bool = False, **_: Any
    ) -> Iterator[bytes]:
        self.since.append(since)
        self.follow.append(follow)
        kept = self.reads[min(len(self.since), len(self.reads)) - 1]
        frames = [entry(ts, text) for ts, text in kept if ts >= (since or 0) * 10**9]
        if not self.chunk:
            return iter(frames)
        raw = b"".join(frames)
        return iter(raw[i : i + self.chunk] for i in range(0, len(raw), self.chunk))

    def inspect_container(self, cid: str) -> dict[str, Any]:
        return {"State": {"Running": len(self.since) < len(self.reads) - 1}}


def follow(engine: ScriptedEngine, path: Path, resume: bool, **kw: Any) -> None:
    kw.setdefault("max_files", 10)
    kw.setdefault("max_file_size_mb", 1)
    follower = LogFollower(engine, "c1", str(path), stdout=True, resume=resume, **kw)
    follower.start()
    follower.join(10)


def all_logs(first: Path) -> bytes:
    """Every remaining `<task>.<stream>.<N>` file, in order."""
    base = first.name.rsplit(".", 1)[0]
    files = sorted(first.parent.glob(f"{base}.*"), key=lambda p: int(p.suffix[1:]))
    return b"".join(p.read_bytes() for p in files if p.suffix[1:].isdigit())


def write_position(first: Path, **record: Any) -> None:
    Path(position_path(str(first))).write_text(json.dumps({"container_id": "c1", **record}))


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "web.stdout.0"


def test_parse_timestamp() -> None:
    assert parse_timestamp(stamp(T0 + 123)) == T0 + 123
    assert parse_timestamp(b"2023-11-14T22:13:20Z") == T0
    assert parse_timestamp(b"2023-11-14T22:13:20.5Z") == T0 + 500_000_000  # trimmed zeros
    assert parse_timestamp(b"2023-11-14T23:13:20.000000001+01:00") == T0 + 1
    assert parse_timestamp(b"hello") is None


def test_entries_are_written_without_timestamps(log_path: Path) -> None:
    engine = ScriptedEngine([(T0, b"a\n"), (T0 + 5, b"partial "), (T0 + 5, b"same stamp\n")])
    follow(engine, log_path, resume=False)
    assert log_path.read_bytes() == b"a\npartial same stamp\n"
    position = json.loads(Path(position_path(str(log_path))).read_text())
    assert position == {
        "container_id": "c1",
        "anchor_ns": T0 + 5,
        "anchor_bytes": len(b"partial same stamp\n"),
        "anchor_complete": True,
        "index": 0,
        "size": len(b"a\npartial same stamp\n"),
    }


def test_entries_the_engine_sends_twice_are_written_once(log_path: Path) -> None:
    lines = [(T0 + i, f"line {i}\n".encode()) for i in range(8)]
    split = [(T0 + 9, b"long "), (T0 + 9, b"line\n")]
    # json-file after rotating under a follow: an older stretch again; then
    # just the last entry again; then a split line, sent twice
    sent = [*lines[:6], *lines[3:6], lines[5], *lines[6:], *split, *split, (T0 + 10, b"end\n")]
    follow(ScriptedEngine(sent), log_path, resume=False)
    assert log_path.read_bytes() == b"".join(t for _, t in [*lines, *split]) + b"end\n"


def test_a_new_container_appends_after_the_last_ones_output(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"previous run\n")
    follow(ScriptedEngine([(T0, b"new run\n")]), log_path, resume=False)
    assert log_path.read_bytes() == b"previous run\nnew run\n"


def test_resume_skips_what_the_killed_client_wrote_but_did_not_record(log_path: Path) -> None:
    lines = [(T0 + i * 1000, f"line {i}\n".encode()) for i in range(6)]
    # entries 1 and 2 are one long line the engine split (one stamp); the old
    # client wrote entries 0-2 but was killed before recording entry 2
    lines[1:3] = [(T0 + 1000, b"line 1 is long, "), (T0 + 1000, b"really\n")]
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"earlier task run\n" + b"".join(t for _, t in lines[:3]))
    written = len(b"earlier task run\n" + lines[0][1] + lines[1][1])
    write_position(
        log_path,
        anchor_ns=T0 + 1000,
        anchor_bytes=len(lines[1][1]),
        anchor_complete=False,
        index=0,
        size=written,
    )

    engine = ScriptedEngine(lines)
    follow(engine, log_path, resume=True)

    assert log_path.read_bytes() == b"earlier task run\n" + b"".join(t for _, t in lines)
    assert engine.since == [T0 // 10**9]  # whole seconds, rounded down


def test_follow_cut_short_by_the_engine_is_completed_after_exit(log_path: Path) -> None:
    lines = [(T0 + i, f"line {i}\n".encode()) for i in range(6)]
    # the follow ends early (the engine rotated its own log under the reader);
    # by the plain read after the exit, its older file (lines 0-2) is gone
    engine = ScriptedEngine(lines, reads=[lines[:3], lines[3:]])
    follow(engine, log_path, resume=False)
    assert log_path.read_bytes() == b"".join(t for _, t in lines)
    assert engine.follow == [True, False] and engine.since == [None, T0 // 10**9]


def test_resume_counts_what_was_written_after_a_rotation(log_path: Path) -> None:
    big = [(T0 + i, bytes([65 + i]) * (600 * 1024)) for i in range(5)]
    with RotatingLog(str(log_path), 10, 1) as out:
        for _, data in big[:3]:  # 1.8 MiB: .0 is full, .1 holds the rest
            out.write(data)
    assert (log_path.parent / "web.stdout.1").exists()
    write_position(
        log_path, anchor_ns=big[0][0], anchor_bytes=len(big[0][1]), index=0, size=len(big[0][1])
    )

    follow(ScriptedEngine(big), log_path, resume=True)

    assert all_logs(log_path) == b"".join(d for _, d in big)
    assert log_path.stat().st_size == MIB


def test_resume_without_a_position_starts_after_the_last_write(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"copied by an older client\n")
    os.utime(log_path, ns=(T0 + 10, T0 + 10))
    # a position of another container does not count either
    write_position(log_path, container_id="other", anchor_ns=0, anchor_bytes=0, index=0, size=0)
    engine = ScriptedEngine([(T0, b"old\n"), (T0 + 20, b"new\n")])
    follow(engine, log_path, resume=True)
    assert log_path.read_bytes() == b"copied by an older client\nnew\n"


def test_tty_streams_are_split_into_lines(log_path: Path) -> None:
    lines = [(T0 + i, f"tty line {i}\n".encode()) for i in range(5)]
    follow(ScriptedEngine(lines, chunk=7), log_path, resume=False, tty=True)
    assert log_path.read_bytes() == b"".join(t for _, t in lines)
    # and a resume skips by line just the same
    write_position(log_path, anchor_ns=lines[1][0], anchor_bytes=11, index=0, size=22)
    follow(ScriptedEngine([*lines, (T0 + 9, b"more\n")], chunk=5), log_path, resume=True, tty=True)
    assert log_path.read_bytes() == b"".join(t for _, t in lines) + b"more\n"


# -- the real engine --------------------------------------------------------------------

_CLIENT_THAT_DIES = """
import sys, time, msgspec
from controlplane.drivers.base import TaskConfig
from controlplane.drivers.docker import DockerDriver
cfg = msgspec.json.decode(sys.stdin.buffer.readline(), type=TaskConfig)
sys.stdout.buffer.write(msgspec.json.encode(DockerDriver().start(cfg)) + b"\\n")
sys.stdout.flush()
time.sleep(600)
"""

PAD = "x" * 200


def numbered(first: int, last: int) -> bytes:
    return b"".join(f"{i} {PAD}\n".encode() for i in range(first, last + 1))


@pytest.fixture
def driver(docker_engine: docker.DockerClient, docker_image: str) -> Iterator[DockerDriver]:
    with tracked_driver(docker_engine) as drv:
        yield drv


@pytest.mark.docker
def test_container_logs_rotate(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    # 2.3 MiB: three 1 MiB files, of which two stay (the engine keeps more:
    # json-file, 2 x 2 MB, so a burst it has dropped before we read is not a test)
    script = f"seq 1 11500 | sed 's/$/ {PAD}/'"
    cfg = task_config(
        image_config(docker_image, "sh", "-c", script), logs_max_files=2, logs_max_file_size_mb=1
    )
    result = driver.wait(driver.start(cfg), timeout=60)
    assert result is not None and result.successful()

    logs = Path(cfg.stdout_path).parent
    assert sorted(p.name for p in logs.glob("web.stdout.*")) == ["web.stdout.1", "web.stdout.2"]
    assert (logs / "web.stdout.1").stat().st_size == MIB  # full, then the next file
    expected = numbered(1, 11500)
    kept = (logs / "web.stdout.1").read_bytes() + (logs / "web.stdout.2").read_bytes()
    assert len(expected) > 2 * MIB and expected.endswith(kept)


@pytest.mark.docker
def test_logs_resume_after_the_client_is_killed(
    driver: DockerDriver,
    docker_image: str,
    task_config: MakeConfig,
    eventually: Callable[..., Any],
) -> None:
    script = (
        f"seq 1 7000 | sed 's/$/ {PAD}/'; while [ ! -e /local/go ]; do sleep 0.02; done;"
        f" seq 7001 11500 | sed 's/$/ {PAD}/'"
    )
    cfg = task_config(image_config(docker_image, "sh", "-c", script), logs_max_file_size_mb=1)
    first_half = numbered(1, 7000)
    log_path = Path(cfg.stdout_path)
    with subprocess.Popen(
        [sys.executable, "-c", _CLIENT_THAT_DIES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    ) as client:
        try:
            assert client.stdin is not None and client.stdout is not None
            client.stdin.write(msgspec.json.encode(cfg) + b"\n")
            client.stdin.flush()
            handle = msgspec.json.decode(client.stdout.readline(), type=TaskHandle)
            eventually(lambda: all_logs(log_path) == first_half, timeout=30, what="the first half")
        finally:
            client.send_signal(signal.SIGKILL)  # no chance to save its position

    (Path(cfg.task_dir) / "local" / "go").touch()
    assert driver.recover(handle)
    result = driver.wait(handle, timeout=60)
    assert result is not None and result.successful()
    assert all_logs(log_path) == numbered(1, 11500)
    assert (log_path.parent / "web.stdout.2").exists()  # it rotated along the way
