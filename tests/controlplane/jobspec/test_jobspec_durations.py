"""Go time.ParseDuration semantics for job-file durations."""

from __future__ import annotations

import pytest

from controlplane.jobspec import parse_duration

SEC = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("30m", 30 * 60 * SEC),
        ("10s", 10 * SEC),
        ("1h30m", 90 * 60 * SEC),
        ("1.5s", 1_500_000_000),
        ("300ms", 300_000_000),
        ("2us", 2_000),
        ("2µs", 2_000),
        ("7ns", 7),
        ("24h", 24 * 3600 * SEC),
        ("-1m", -60 * SEC),
        ("0", 0),
        ("1500", 1500),  # bare number: nanoseconds
        (".5h", 1800 * SEC),
        (5_000_000_000, 5 * SEC),
    ],
)
def test_parse_duration(text: str | int, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "1d", "10 s", "s", "1h-30m", "abc", "1.2.3s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
