"""Time values as Nomad puts them on the wire: Go `time.Time` as RFC3339
strings with nanoseconds, event times as unix nanoseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(ts: float) -> str:
    """Unix seconds -> `2024-05-01T12:00:00.123456789Z`."""
    whole = int(ts // 1)
    nanos = min(round((ts - whole) * 1e9), 999_999_999)
    dt = datetime.fromtimestamp(whole, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def unix_nanos(ts: float) -> int:
    return int(ts * 1_000_000_000)
