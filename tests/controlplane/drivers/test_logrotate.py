"""RotatingLog: size-based rotation, pruning to max_files, resuming the newest file."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.drivers.logrotate import MIB, RotatingLog, log_indexes, split_log_path


def test_split_log_path() -> None:
    assert split_log_path("/a/logs/web.stdout.0") == ("/a/logs", "web.stdout")
    with pytest.raises(ValueError):
        split_log_path("/a/logs/web.stdout")


def test_rotates_at_size_and_keeps_max_files(tmp_path: Path) -> None:
    log = RotatingLog(str(tmp_path / "web.stdout.0"), max_files=3, max_file_size_mb=1)
    payload = bytes(range(256)) * 4096  # exactly 1 MiB
    for _ in range(4):
        log.write(payload)
    log.write(b"tail")
    log.close()
    assert log_indexes(str(tmp_path), "web.stdout") == [2, 3, 4]
    assert (tmp_path / "web.stdout.3").stat().st_size == MIB
    assert (tmp_path / "web.stdout.4").read_bytes() == b"tail"


def test_write_splits_a_chunk_across_files(tmp_path: Path) -> None:
    log = RotatingLog(str(tmp_path / "t.stderr.0"), max_files=5, max_file_size_mb=1)
    log.write(b"x" * (MIB + 10))
    log.close()
    assert (tmp_path / "t.stderr.0").stat().st_size == MIB
    assert (tmp_path / "t.stderr.1").read_bytes() == b"x" * 10


def test_reopen_appends_to_newest(tmp_path: Path) -> None:
    (tmp_path / "t.stdout.0").write_bytes(b"old0")
    (tmp_path / "t.stdout.7").write_bytes(b"old7")
    (tmp_path / "other.stdout.9").write_bytes(b"not ours")
    with RotatingLog(str(tmp_path / "t.stdout.0")) as log:
        log.write(b"+new")
    assert (tmp_path / "t.stdout.7").read_bytes() == b"old7+new"
    assert log.index == 7
