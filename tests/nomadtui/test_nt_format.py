"""Formatting helpers: columnize, key/value blocks, times, sizes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from nomadtui.cli import format as fmt

NOW = datetime(2020, 6, 21, 18, 40, 0, tzinfo=UTC)


def test_columnize_two_spaces_left_aligned_and_none_for_empty() -> None:
    out = fmt.columnize([["ID", "DC", "Class"], ["97c95ca0", "dc1", ""], ["a", "dc22", "x"]])
    assert out.splitlines() == [
        "ID        DC    Class",
        "97c95ca0  dc1   <none>",
        "a         dc22  x",
    ]


def test_columnize_none_cell_stays_blank_and_lines_have_no_trailing_space() -> None:
    out = fmt.columnize([["A", "B"], ["x", "y"], [None, "z"]])
    assert out.splitlines() == ["A  B", "x  y", "   z"]
    assert all(line == line.rstrip() for line in out.splitlines())


def test_kv_pads_keys_and_marks_empty_values() -> None:
    out = fmt.kv([("ID", "example"), ("Submit Date", ""), ("Type", "service")])
    assert out.splitlines() == [
        "ID          = example",
        "Submit Date = <none>",
        "Type        = service",
    ]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s ago"),
        (timedelta(milliseconds=300), "0s ago"),
        (timedelta(seconds=24), "24s ago"),
        (timedelta(minutes=5), "5m ago"),
        (timedelta(minutes=3, seconds=28), "3m28s ago"),
        (timedelta(hours=1, minutes=2, seconds=3), "1h2m ago"),
        (timedelta(hours=1, seconds=5), "1h5s ago"),
        (timedelta(days=40, hours=3), "1mo10d ago"),
        (timedelta(seconds=-3), "3s from now"),
    ],
)
def test_pretty_time_diff(delta: timedelta, expected: str) -> None:
    assert fmt.pretty_time_diff(NOW - delta, NOW) == expected


def test_pretty_time_diff_of_zero_time_is_empty() -> None:
    assert fmt.pretty_time_diff(None, NOW) == ""
    assert fmt.pretty_time_diff(fmt.from_unix_nano(0), NOW) == ""


def test_absolute_time_uses_local_zone_with_go_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fmt.format_datetime(NOW) == "2020-06-21T18:40:00Z"
    monkeypatch.setenv("TZ", "CEST-02")
    time.tzset()
    assert fmt.format_datetime(NOW) == "2020-06-21T20:40:00+02:00"
    assert fmt.format_unix_nano(int(NOW.timestamp()) * 10**9) == "2020-06-21T20:40:00+02:00"
    assert fmt.format_unix_nano(0) == ""


def test_rfc3339_nanoseconds_and_zero_time() -> None:
    parsed = fmt.from_rfc3339("2020-06-21T18:40:00.123456789Z")
    assert parsed == NOW + timedelta(microseconds=123456)
    assert fmt.from_rfc3339("0001-01-01T00:00:00Z") is None
    assert fmt.from_rfc3339(None) is None


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        (0, "0s"),
        (10 * 10**9, "10s"),
        (90 * 10**9, "1m30s"),
        (1_500_000_000, "1.5s"),
        (3600 * 10**9, "1h0m0s"),
        (250_000_000, "250ms"),
    ],
)
def test_go_duration(ns: int, expected: str) -> None:
    assert fmt.go_duration(ns) == expected


def test_ibytes() -> None:
    assert fmt.ibytes(512) == "512 B"
    assert fmt.megabytes(256) == "256 MiB"
    assert fmt.megabytes(2048) == "2.0 GiB"
    assert fmt.megabytes(16 * 1024) == "16 GiB"


def test_short_ids() -> None:
    uuid = "0f09c03d-1234-5678-9abc-def012345678"
    assert fmt.short_id(uuid) == "0f09c03d"
    assert fmt.short_id(uuid, verbose=True) == uuid
