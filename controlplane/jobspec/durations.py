"""Go `time.ParseDuration` for job files: "1h30m", "1.5s", "300ms" -> int nanoseconds.

Owns only the duration grammar; it knows nothing about which fields are
durations (that is the HCL mapping's business).
"""

from __future__ import annotations

import re

_UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}

# One "<number><unit>" component; Go allows "1.", ".5" and "1.5".
_COMPONENT = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = (1 << 63) - 1


def parse_duration(value: str | int | float) -> int:
    """Parse a Go duration string into nanoseconds.

    Numbers (and numeric strings) are taken as nanoseconds, as Nomad's job
    parser does. Raises ValueError with a short message on bad input.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = value.strip()
    if not text:
        raise ValueError('invalid duration ""')
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if re.fullmatch(r"\d+", body):
        return sign * int(body)
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    exact = 0
    pos = 0
    while pos < len(body):
        m = _COMPONENT.match(body, pos)
        if m is None:
            unit_m = re.match(r"(\d+\.?\d*|\.\d+)", body[pos:])
            if unit_m is not None:
                raise ValueError(f"unknown or missing unit in duration {text!r}")
            raise ValueError(f"invalid duration {text!r}")
        number, unit = m.group(1), m.group(2)
        scale = _UNITS[unit]
        if "." in number:
            total += float(number) * scale
        else:
            exact += int(number) * scale
        pos = m.end()
    ns = exact + round(total)
    if ns > _MAX_NS:
        raise ValueError(f"invalid duration {text!r}: overflow")
    return sign * ns
