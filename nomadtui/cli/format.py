"""Nomad-style text output: columnized tables, `key = value` blocks, section
titles, times, sizes and ID truncation.

Pure functions over strings and numbers; no I/O and no API knowledge.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

EMPTY = "<none>"
SHORT_ID = 8
FULL_ID = 36

_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


def columnize(rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns, two spaces apart; empty cells print as `<none>`,
    `None` cells stay blank (continuation lines of a multi-line cell)."""
    table = [["" if c is None else (str(c) or EMPTY) for c in row] for row in rows]
    if not table:
        return ""
    ncols = max(len(r) for r in table)
    widths = [max((len(r[i]) for r in table if i < len(r)), default=0) for i in range(ncols)]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def kv(pairs: Iterable[tuple[str, object]]) -> str:
    """`Key = value` lines with keys padded to equal width."""
    items = [(k, str(v) if str(v) != "" else EMPTY) for k, v in pairs]
    if not items:
        return ""
    width = max(len(k) for k, _ in items)
    return "\n".join(f"{k.ljust(width)} = {v}".rstrip() for k, v in items)


def bold(text: str, color: bool) -> str:
    return f"{_BOLD}{text}{_RESET}" if color else text


def title(text: str, color: bool) -> str:
    """A section title preceded by a blank line."""
    return "\n" + bold(text, color)


def short_id(value: str, verbose: bool = False) -> str:
    return value if verbose else value[:SHORT_ID]


def id_length(verbose: bool) -> int:
    return FULL_ID if verbose else SHORT_ID


# -- times ---------------------------------------------------------------------


def format_datetime(moment: datetime | None) -> str:
    """`2006-01-02T15:04:05Z07:00` in the local zone; `Z` for UTC."""
    if moment is None:
        return ""
    # Re-read TZ on each call so a changed zone (tests, long-lived TUI) applies.
    time.tzset()
    local = moment.astimezone()
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    offset = text[-5:]
    if offset in ("+0000", "-0000"):
        return text[:-5] + "Z"
    return f"{text[:-5]}{offset[:3]}:{offset[3:]}"


def from_unix_nano(ns: int | None) -> datetime | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def from_rfc3339(text: str | None) -> datetime | None:
    """Go time.Time JSON (RFC 3339, maybe nanoseconds); zero/null -> None."""
    if not text or text.startswith("0001-01-01"):
        return None
    raw = text.replace("Z", "+00:00")
    main, _, rest = raw.partition(".")
    if rest:
        # Python parses at most microseconds: cut the fraction to 6 digits.
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        raw = f"{main}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_unix_nano(ns: int | None) -> str:
    return format_datetime(from_unix_nano(ns))


_UNITS = (("y", 365 * 86400), ("mo", 30 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def pretty_time_diff(then: datetime | None, now: datetime) -> str:
    """`5m ago`, `1h2m ago`, `3s from now`: the two largest non-zero units,
    rounded to the second; empty for a zero time."""
    if then is None:
        return ""
    delta = round(now.timestamp()) - round(then.timestamp())
    suffix = "ago" if delta >= 0 else "from now"
    return f"{compact_duration(abs(delta))} {suffix}"


def compact_duration(seconds: int, units: int = 2) -> str:
    parts: list[str] = []
    rest = seconds
    for name, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts[:units]) or "0s"


def go_duration(ns: int) -> str:
    """Nanoseconds rendered like Go's time.Duration.String (`10s`, `1m30s`, `1.5s`)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim_float(ns / size) + unit
    hours, rem = divmod(ns, 3600 * 10**9)
    minutes, rem = divmod(rem, 60 * 10**9)
    secs = _trim_float(rem / 1e9)
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return f"{sign}{out}{secs}s"


def _trim_float(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


# -- sizes ---------------------------------------------------------------------


def ibytes(count: int) -> str:
    """Binary-prefixed sizes: `512 B`, `2.0 GiB`, `256 MiB` (one decimal below 10)."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        value /= 1024
        if value < 1024 or unit == "EiB":
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count} B"


def megabytes(mb: int) -> str:
    return ibytes(mb * 1024 * 1024)


def join_or_empty(values: Iterable[str], sep: str = ",") -> str:
    return sep.join(values)
