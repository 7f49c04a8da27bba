"""Cron expressions as Nomad's `periodic` block reads them (gorhill/cronexpr syntax).

Parses an expression and computes the next matching instant in a time zone
(zoneinfo). Pure: no clock, no I/O; shared by the server's periodic
dispatcher and the CLI (`Next Periodic Launch`), as Nomad's api package
shares cronexpr. Never launches anything.

Syntax: 5 fields (minute hour day-of-month month day-of-week), 6 fields
(the same plus year) or 7 fields (second first, year last); macros
`@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
`@hourly`; in a field `*`, `?` (day fields), `N`, `A-B`, `*/S`, `A-B/S`,
`A/S`, lists `A,B`, names `JAN`-`DEC` and `SUN`-`SAT` (7 is Sunday too);
day-of-month `L` (last day), `LW` (last weekday), `NW` (weekday nearest
N); day-of-week `NL` (last N-day of the month) and `N#K` (K-th N-day).
When both day fields are restricted a day matching either runs (crontab(5)).

Time zones and DST: fields are matched against the wall clock of the zone.
A wall time the clocks skip (spring forward) fires at the same distance
after the jump (02:30 -> 03:30), once; a wall time that happens twice (fall
back) fires once, at its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_YEAR = 1970
MAX_YEAR = 2099

MACROS = {
    "@yearly": "0 0 0 1 1 * *",
    "@annually": "0 0 0 1 1 * *",
    "@monthly": "0 0 0 1 * * *",
    "@weekly": "0 0 0 * * 0 *",
    "@daily": "0 0 0 * * * *",
    "@midnight": "0 0 0 * * * *",
    "@hourly": "0 0 * * * * *",
}

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
MONTH_NAMES = {n: i + 1 for i, full in enumerate(_MONTHS) for n in (full, full[:3])}
DAY_NAMES = {n: i for i, full in enumerate(_DAYS) for n in (full, full[:3])}


class CronError(ValueError):
    """An expression that does not parse; the message says which field and why."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, MONTH_NAMES)
# 7 is Sunday as well as 0; folded to 0 after parsing
_DOW = _Field("day-of-week", 0, 7, DAY_NAMES)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR)

_NTH = re.compile(r"^(\w+)#([1-5])$")
_LAST_DOW = re.compile(r"^(\w+)L$", re.IGNORECASE)
_NEAREST = re.compile(r"^(\d+)W$", re.IGNORECASE)


def _value(token: str, f: _Field) -> int:
    t = token.strip().lower()
    if f.names is not None and t in f.names:
        return f.names[t]
    if not t.isdigit():
        raise CronError(f'syntax error in {f.name} field: "{token}"')
    v = int(t)
    if not f.low <= v <= f.high:
        raise CronError(f'{f.name} value {v} out of range [{f.low}-{f.high}] in "{token}"')
    return v


def _range(part: str, f: _Field) -> set[int]:
    """One list element: `*`, `N`, `A-B`, each with an optional `/STEP`."""
    base, slash, step_s = part.partition("/")
    step = 1
    if slash:
        if not step_s.isdigit() or int(step_s) == 0:
            raise CronError(f'syntax error in {f.name} field: bad step in "{part}"')
        step = int(step_s)
    if base in ("*", "?"):
        low, high = f.low, f.high
    elif "-" in base:
        a, _, b = base.partition("-")
        low, high = _value(a, f), _value(b, f)
        if low > high:
            raise CronError(f'syntax error in {f.name} field: range "{base}" runs backwards')
    else:
        low = _value(base, f)
        # `A/S` means from A to the field's end in steps of S
        high = f.high if slash else low
    return set(range(low, high + 1, step))


def _parse_field(text: str, f: _Field) -> set[int]:
    if not text:
        raise CronError(f"empty {f.name} field")
    out: set[int] = set()
    for part in text.split(","):
        out |= _range(part, f)
    return out


@dataclass(frozen=True)
class _Days:
    """The two day fields; `dom`/`dow` are None when unrestricted (`*`, `?`)."""

    dom: frozenset[int] | None
    dom_last: bool = False
    dom_last_weekday: bool = False
    dom_nearest: frozenset[int] = frozenset()
    dow: frozenset[int] | None = None
    dow_last: frozenset[int] = frozenset()
    dow_nth: frozenset[tuple[int, int]] = frozenset()

    def matches(self, year: int, month: int, day: int) -> bool:
        dom_set = self.dom is not None or self.dom_last or self.dom_last_weekday
        dom_set = dom_set or bool(self.dom_nearest)
        dow_set = self.dow is not None or bool(self.dow_last) or bool(self.dow_nth)
        if not dom_set and not dow_set:
            return True
        if dom_set and self._dom_match(year, month, day):
            return True
        return dow_set and self._dow_match(year, month, day)

    def _dom_match(self, year: int, month: int, day: int) -> bool:
        last = calendar.monthrange(year, month)[1]
        if self.dom is not None and day in self.dom:
            return True
        if self.dom_last and day == last:
            return True
        if self.dom_last_weekday and day == _nearest_weekday(year, month, last, last):
            return True
        return any(
            n <= last and day == _nearest_weekday(year, month, n, last) for n in self.dom_nearest
        )

    def _dow_match(self, year: int, month: int, day: int) -> bool:
        wd = _weekday(year, month, day)
        if self.dow is not None and wd in self.dow:
            return True
        last = calendar.monthrange(year, month)[1]
        if wd in self.dow_last and day + 7 > last:
            return True
        return (wd, (day - 1) // 7 + 1) in self.dow_nth


def _weekday(year: int, month: int, day: int) -> int:
    """0 = Sunday, as cron counts."""
    return (calendar.weekday(year, month, day) + 1) % 7


def _nearest_weekday(year: int, month: int, n: int, last: int) -> int:
    """The weekday (Mon-Fri) nearest day `n`, never leaving the month."""
    wd = _weekday(year, month, n)
    if wd == 6:  # Saturday: Friday before, or Monday after on the 1st
        return n - 1 if n > 1 else n + 2
    if wd == 0:  # Sunday: Monday after, or Friday before on the last day
        return n + 1 if n < last else n - 2
    return n


def _parse_dom(text: str) -> _Days:
    if text in ("*", "?"):
        return _Days(dom=None)
    plain: set[int] = set()
    last = last_weekday = False
    nearest: set[int] = set()
    for part in text.split(","):
        up = part.upper()
        if up == "L":
            last = True
        elif up == "LW":
            last_weekday = True
        elif m := _NEAREST.match(part):
            nearest.add(_value(m.group(1), _DOM))
        else:
            plain |= _range(part, _DOM)
    return _Days(
        dom=frozenset(plain) if plain else None,
        dom_last=last,
        dom_last_weekday=last_weekday,
        dom_nearest=frozenset(nearest),
    )


def _parse_dow(
    text: str,
) -> tuple[frozenset[int] | None, frozenset[int], frozenset[tuple[int, int]]]:
    if text in ("*", "?"):
        return None, frozenset(), frozenset()
    plain: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for part in text.split(","):
        if m := _NTH.match(part):
            nth.add((_value(m.group(1), _DOW) % 7, int(m.group(2))))
        elif m := _LAST_DOW.match(part):
            last.add(_value(m.group(1), _DOW) % 7)
        else:
            plain |= {d % 7 for d in _range(part, _DOW)}
    return (frozenset(plain) if plain else None), frozenset(last), frozenset(nth)


@dataclass(frozen=True)
class CronExpression:
    """A parsed expression; `next_after` finds the next matching instant."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    days: _Days

    def next_after(self, after: datetime, tz: tzinfo = UTC) -> datetime | None:
        """The first instant strictly after `after` (aware) whose wall time in `tz`
        matches, as an aware datetime in `tz`; None if none before MAX_YEAR ends."""
        if after.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        local = after.astimezone(tz)
        wall = local.replace(tzinfo=None, microsecond=0, fold=0) + timedelta(seconds=1)
        while True:
            match = self._next_wall(wall)
            if match is None:
                return None
            # fold=0: a skipped wall time lands after the jump, a repeated one
            # at its first occurrence (zoneinfo's reading of fold=0)
            instant = match.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
            if instant > after:
                return instant
            wall = match + timedelta(seconds=1)

    def _next_wall(self, w: datetime) -> datetime | None:
        """Smallest naive wall time >= w matching every field."""
        while w.year <= MAX_YEAR:
            if w.year not in self.years:
                later = [y for y in self.years if y > w.year]
                if not later:
                    return None
                w = datetime(min(later), 1, 1)
                continue
            if w.month not in self.months:
                later = [m for m in self.months if m > w.month]
                w = datetime(w.year, min(later), 1) if later else datetime(w.year + 1, 1, 1)
                continue
            if not self.days.matches(w.year, w.month, w.day):
                w = datetime(w.year, w.month, w.day) + timedelta(days=1)
                continue
            if w.hour not in self.hours:
                h = _first_at_least(self.hours, w.hour)
                w = (
                    w.replace(hour=h, minute=0, second=0)
                    if h is not None
                    else datetime(w.year, w.month, w.day) + timedelta(days=1)
                )
                continue
            if w.minute not in self.minutes:
                m = _first_at_least(self.minutes, w.minute)
                w = (
                    w.replace(minute=m, second=0)
                    if m is not None
                    else w.replace(minute=0, second=0) + timedelta(hours=1)
                )
                continue
            if w.second not in self.seconds:
                s = _first_at_least(self.seconds, w.second)
                w = (
                    w.replace(second=s)
                    if s is not None
                    else w.replace(second=0) + timedelta(minutes=1)
                )
                continue
            return w
        return None


def _first_at_least(values: frozenset[int], v: int) -> int | None:
    later = [x for x in values if x >= v]
    return min(later) if later else None


def parse(text: str) -> CronExpression:
    """Parse an expression; CronError names the field at fault."""
    expr = " ".join(text.split())
    if not expr:
        raise CronError("empty cron expression")
    if expr.startswith("@"):
        macro = MACROS.get(expr.lower())
        if macro is None:
            raise CronError(f'unknown cron macro "{expr}"')
        fields = macro.split()
    else:
        fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields, "*"]
    elif len(fields) == 6:
        fields = ["0", *fields]
    elif len(fields) != 7:
        raise CronError(f"expected 5 to 7 fields, found {len(fields)}")
    sec, minute, hour, dom, month, dow, year = fields
    # field by field, left to right, so an error names the first bad field
    seconds = frozenset(_parse_field(sec, _SECOND))
    minutes = frozenset(_parse_field(minute, _MINUTE))
    hours = frozenset(_parse_field(hour, _HOUR))
    days = _parse_dom(dom)
    months = frozenset(_parse_field(month, _MONTH))
    dow_plain, dow_last, dow_nth = _parse_dow(dow)
    days = _Days(
        dom=days.dom,
        dom_last=days.dom_last,
        dom_last_weekday=days.dom_last_weekday,
        dom_nearest=days.dom_nearest,
        dow=dow_plain,
        dow_last=dow_last,
        dow_nth=dow_nth,
    )
    return CronExpression(
        text=text,
        seconds=seconds,
        minutes=minutes,
        hours=hours,
        months=months,
        years=frozenset(_parse_field(year, _YEAR)),
        days=days,
    )


def zone(name: str) -> tzinfo:
    """A `time_zone` value as a tzinfo ("" and "UTC" are UTC, "Local" the host's)."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name}") from None


def next_launch(specs: list[str], after: datetime, time_zone: str = "UTC") -> datetime | None:
    """The earliest next instant of any of `specs` strictly after `after`."""
    tz = zone(time_zone)
    found = [t for t in (parse(s).next_after(after, tz) for s in specs) if t is not None]
    return min(found) if found else None
