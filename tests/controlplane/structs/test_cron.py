"""Cron expressions: syntax, next-time arithmetic, time zones and DST, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from controlplane.structs.cron import CronError, next_launch, parse, zone


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _run(expr: str, start: datetime, n: int, tz: str = "UTC") -> list[str]:
    e, z = parse(expr), zone(tz)
    out = []
    t = start
    for _ in range(n):
        nxt = e.next_after(t, z)
        assert nxt is not None
        out.append(nxt.isoformat())
        t = nxt
    return out


@pytest.mark.parametrize(
    ("expr", "start", "expected"),
    [
        ("*/15 * * * *", _utc(2024, 1, 1, 0, 7), ["00:15", "00:30", "00:45", "01:00"]),
        ("0 9-17/4 * * *", _utc(2024, 1, 1), ["09:00", "13:00", "17:00", "09:00"]),
        ("5,10 3 * * *", _utc(2024, 1, 1), ["03:05", "03:10", "03:05", "03:10"]),
        ("10/20 * * * *", _utc(2024, 1, 1), ["00:10", "00:30", "00:50", "01:10"]),
        ("@hourly", _utc(2024, 1, 1, 0, 0, 1), ["01:00", "02:00", "03:00", "04:00"]),
    ],
)
def test_times_of_day(expr: str, start: datetime, expected: list[str]) -> None:
    assert [t[11:16] for t in _run(expr, start, 4)] == expected


def test_next_is_strictly_after_the_given_instant() -> None:
    assert _run("0 * * * *", _utc(2024, 1, 1, 5, 0, 0), 1) == ["2024-01-01T06:00:00+00:00"]


def test_seven_fields_have_seconds_and_a_year() -> None:
    assert _run("*/20 * * * * * *", _utc(2024, 1, 1, 0, 0, 5), 3) == [
        "2024-01-01T00:00:20+00:00",
        "2024-01-01T00:00:40+00:00",
        "2024-01-01T00:01:00+00:00",
    ]
    assert _run("0 0 0 1 1 * 2030", _utc(2024, 6, 1), 1) == ["2030-01-01T00:00:00+00:00"]
    # six fields: minute ... day-of-week, then the year
    assert _run("0 12 1 1 * 2027", _utc(2024, 6, 1), 1) == ["2027-01-01T12:00:00+00:00"]
    # nothing after the last year that can match
    assert parse("0 0 0 1 1 * 2030").next_after(_utc(2031, 1, 1)) is None


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", "2025-01-01T00:00:00+00:00"),
        ("@annually", "2025-01-01T00:00:00+00:00"),
        ("@monthly", "2024-07-01T00:00:00+00:00"),
        ("@weekly", "2024-06-16T00:00:00+00:00"),  # a Sunday
        ("@daily", "2024-06-13T00:00:00+00:00"),
        ("@midnight", "2024-06-13T00:00:00+00:00"),
        ("@hourly", "2024-06-12T11:00:00+00:00"),
    ],
)
def test_macros(macro: str, expected: str) -> None:
    assert _run(macro, _utc(2024, 6, 12, 10, 30), 1) == [expected]


def test_names_for_months_and_days_and_seven_is_sunday() -> None:
    # MON-FRI at 08:00 from Friday 2024-06-14 noon: Mon 17, Tue 18
    assert [t[:10] for t in _run("0 8 * * MON-FRI", _utc(2024, 6, 14, 12), 2)] == [
        "2024-06-17",
        "2024-06-18",
    ]
    assert [t[:10] for t in _run("0 0 1 jan,Jul *", _utc(2024, 2, 1), 2)] == [
        "2024-07-01",
        "2025-01-01",
    ]
    assert _run("0 0 * * 7", _utc(2024, 6, 12), 1) == _run("0 0 * * SUN", _utc(2024, 6, 12), 1)


def test_restricted_day_fields_match_either_as_crontab_does() -> None:
    # the 13th, or any Friday (June 2024: Fri 14, 21; 13th is a Thursday)
    got = [t[:10] for t in _run("0 0 13 * FRI", _utc(2024, 6, 12), 3)]
    assert got == ["2024-06-13", "2024-06-14", "2024-06-21"]
    # `?` leaves a day field unrestricted
    assert _run("0 0 13 * ?", _utc(2024, 6, 12), 1)[0].startswith("2024-06-13")


def test_last_weekday_and_nth_day_specials() -> None:
    assert [t[:10] for t in _run("0 0 L * *", _utc(2024, 1, 15), 3)] == [
        "2024-01-31",
        "2024-02-29",  # leap year
        "2024-03-31",
    ]
    # last Friday of the month
    assert _run("0 0 * * 5L", _utc(2024, 6, 1), 1)[0][:10] == "2024-06-28"
    # third Monday
    assert _run("0 0 * * MON#3", _utc(2024, 6, 1), 1)[0][:10] == "2024-06-17"
    # weekday nearest the 15th: 2024-06-15 is a Saturday -> Friday 14th
    assert _run("0 0 15W * *", _utc(2024, 6, 1), 1)[0][:10] == "2024-06-14"
    # last weekday of June 2024 (30th is a Sunday) -> Friday 28th
    assert _run("0 0 LW * *", _utc(2024, 6, 1), 1)[0][:10] == "2024-06-28"


def test_time_zone_shifts_the_wall_clock() -> None:
    assert _run("0 9 * * *", _utc(2024, 1, 1), 1, "Europe/Berlin") == ["2024-01-01T09:00:00+01:00"]
    assert next_launch(["0 9 * * *"], _utc(2023, 12, 31, 23), "Asia/Tokyo") == datetime(
        2024, 1, 1, 0, 0, tzinfo=UTC
    )


def test_spring_forward_runs_a_skipped_time_once_after_the_jump() -> None:
    # 2024-03-10 02:30 does not exist in New York
    assert _run("30 2 * * *", _utc(2024, 3, 9, 12), 3, "America/New_York") == [
        "2024-03-10T03:30:00-04:00",
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]


def test_fall_back_runs_a_repeated_time_once() -> None:
    # 2024-11-03 01:30 happens twice in New York: it fires at the first
    assert _run("30 1 * * *", _utc(2024, 11, 2, 12), 2, "America/New_York") == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
    ]
    # an hourly job keeps moving forward in absolute time across the change
    got = _run("0 * * * *", _utc(2024, 11, 3, 4, 30), 3, "America/New_York")
    assert got == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T02:00:00-05:00",
        "2024-11-03T03:00:00-05:00",
    ]


def test_several_specs_take_the_earliest() -> None:
    assert next_launch(["0 10 * * *", "0 8 * * *"], _utc(2024, 1, 1)) == _utc(2024, 1, 1, 8)


def test_impossible_date_ends_without_a_time_quickly() -> None:
    started = time.monotonic()
    assert parse("0 0 30 2 *").next_after(_utc(2024, 1, 1)) is None
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty cron expression"),
        ("* * *", "expected 5 to 7 fields, found 3"),
        ("61 * * * *", "minute value 61 out of range [0-59]"),
        ("* 24 * * *", "hour value 24 out of range [0-23]"),
        ("* * 0 * *", "day-of-month value 0 out of range [1-31]"),
        ("* * * 13 *", "month value 13 out of range [1-12]"),
        ("* * * FOO *", 'syntax error in month field: "FOO"'),
        ("* * * * 8", "day-of-week value 8 out of range [0-7]"),
        ("*/0 * * * *", "bad step"),
        ("5-1 * * * *", 'range "5-1" runs backwards'),
        ("@fortnightly", 'unknown cron macro "@fortnightly"'),
        ("a b c d e", 'syntax error in minute field: "a"'),
    ],
)
def test_invalid_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(expr)


def test_unknown_time_zone() -> None:
    with pytest.raises(CronError, match="unknown time zone Mars/Olympus"):
        zone("Mars/Olympus")
    assert zone("") is UTC and zone("UTC") is UTC
