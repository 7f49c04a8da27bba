"""consul-template's helper functions that need no data source: strings,
encodings, parsing, JSON, hashes, time and math. Argument order is
consul-template's (the piped value comes last: `.Tags | join ","`). Pure,
except `timestamp`, which reads the clock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .values import GoStruct, NomadService, NomadVarItem, NomadVarItems, go_str, go_type


def text_arg(value: Any, what: str = "value") -> str:
    """A string argument; a variable item counts as its text."""
    if isinstance(value, NomadVarItem):
        return str(value.Value)
    if not isinstance(value, str):
        raise ValueError(f"wrong type for {what}; expected string; got {go_type(value)}")
    return value


def _int_arg(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"wrong type for value; expected int; got {go_type(value)}")
    return int(value)


# ---- strings -------------------------------------------------------------


def split(sep: Any, s: Any) -> list[str]:
    text = text_arg(s).strip()
    if not text:
        return []
    return text.split(text_arg(sep)) if text_arg(sep) else list(text)


def join(sep: Any, items: Any) -> str:
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"wrong type for value; expected []string; got {go_type(items)}")
    return text_arg(sep).join(go_str(i) for i in items)


def replace_all(old: Any, new: Any, s: Any) -> str:
    return text_arg(s).replace(text_arg(old), text_arg(new))


def trim_space(s: Any) -> str:
    return text_arg(s).strip(" \t\n\r\v\f")


def trim(cutset: Any, s: Any) -> str:
    return text_arg(s).strip(text_arg(cutset))


def trim_prefix(prefix: Any, s: Any) -> str:
    text = text_arg(s)
    return text.removeprefix(text_arg(prefix))


def trim_suffix(suffix: Any, s: Any) -> str:
    text = text_arg(s)
    return text.removesuffix(text_arg(suffix))


def to_title(s: Any) -> str:
    return re.sub(r"(^|\s)(\w)", lambda m: m.group(1) + m.group(2).upper(), text_arg(s))


def indent(spaces: Any, s: Any) -> str:
    n = _int_arg(spaces)
    if n < 0:
        raise ValueError("indent value must be a positive integer")
    pad = " " * n
    return "\n".join(pad + line for line in text_arg(s).split("\n"))


def _haystack_has(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return text_arg(needle) in haystack
    if isinstance(haystack, (list, tuple)):
        return any(go_str(item) == go_str(needle) for item in haystack)
    if isinstance(haystack, Mapping):
        return go_str(needle) in haystack
    raise ValueError(f"cannot check membership in {go_type(haystack)}")


def in_(haystack: Any, needle: Any) -> bool:
    return _haystack_has(haystack, needle)


def contains(needle: Any, haystack: Any) -> bool:
    return _haystack_has(haystack, needle)


def _needles(values: Any) -> list[Any]:
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"wrong type for value; expected a list; got {go_type(values)}")
    return list(values)


def contains_all(needles: Any, haystack: Any) -> bool:
    return all(_haystack_has(haystack, n) for n in _needles(needles))


def contains_any(needles: Any, haystack: Any) -> bool:
    return any(_haystack_has(haystack, n) for n in _needles(needles))


def contains_none(needles: Any, haystack: Any) -> bool:
    return not contains_any(needles, haystack)


def contains_not_all(needles: Any, haystack: Any) -> bool:
    return not contains_all(needles, haystack)


def regex_match(pattern: Any, s: Any) -> bool:
    return re.search(text_arg(pattern), text_arg(s)) is not None


def _go_replacement(repl: str) -> str:
    """Go's `$1` / `${name}` template into Python's `\\g<1>` form."""
    out = repl.replace("\\", "\\\\")
    out = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", out)
    return re.sub(r"\$(\w+)", r"\\g<\1>", out)


def regex_replace_all(pattern: Any, repl: Any, s: Any) -> str:
    return re.sub(text_arg(pattern), _go_replacement(text_arg(repl)), text_arg(s))


MAX_LOOP = 1_000_000


def loop(*args: Any) -> list[int]:
    ints = [_int_arg(a) for a in args]
    if len(ints) not in (1, 2):
        raise ValueError(f"loop: wrong number of args: expected 1 or 2, got {len(ints)}")
    steps = range(ints[0]) if len(ints) == 1 else range(ints[0], ints[1])
    if len(steps) > MAX_LOOP:
        raise ValueError(f"loop: more than {MAX_LOOP} steps")
    return list(steps)


# ---- encodings and hashes ------------------------------------------------


def _b64decode(s: Any, urlsafe: bool) -> str:
    data = text_arg(s)
    try:
        raw = base64.urlsafe_b64decode(data) if urlsafe else base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"base64Decode: {exc}") from None
    return raw.decode("utf-8", errors="replace")


def base64_decode(s: Any) -> str:
    return _b64decode(s, urlsafe=False)


def base64_url_decode(s: Any) -> str:
    return _b64decode(s, urlsafe=True)


def base64_encode(s: Any) -> str:
    return base64.b64encode(text_arg(s).encode()).decode()


def base64_url_encode(s: Any) -> str:
    return base64.urlsafe_b64encode(text_arg(s).encode()).decode()


def sha256_hex(s: Any) -> str:
    return hashlib.sha256(text_arg(s).encode()).hexdigest()


def md5sum(s: Any) -> str:
    return hashlib.md5(text_arg(s).encode(), usedforsecurity=False).hexdigest()


def hmac_sha256_hex(message: Any, key: Any) -> str:
    return hmac.new(text_arg(key).encode(), text_arg(message).encode(), hashlib.sha256).hexdigest()


# ---- parsing -------------------------------------------------------------

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(s: Any) -> bool:
    text = text_arg(s)
    if text == "" or text in _FALSE:
        return False
    if text in _TRUE:
        return True
    raise ValueError(f'parseBool: strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_int(s: Any) -> int:
    text = text_arg(s)
    if text == "":
        return 0
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError(f'parseInt: strconv.ParseInt: parsing "{text}": invalid syntax') from None


def parse_uint(s: Any) -> int:
    value = parse_int(s)
    if value < 0:
        raise ValueError(f'parseUint: strconv.ParseUint: parsing "{s}": invalid syntax')
    return value


def parse_float(s: Any) -> float:
    text = text_arg(s)
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        msg = f'parseFloat: strconv.ParseFloat: parsing "{text}": invalid syntax'
        raise ValueError(msg) from None


def parse_json(s: Any) -> Any:
    text = text_arg(s)
    if text == "":
        return None
    # encoding/json decodes every number into a float64
    return json.loads(text, parse_int=float)


# ---- JSON ------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, NomadVarItem):
        return value.Value
    if isinstance(value, NomadVarItems):
        return {k: v.Value for k, v in value.items()}
    if isinstance(value, GoStruct):
        return {f: _jsonable(getattr(value, f)) for f in value._fields}
    if isinstance(value, Mapping):
        return {go_str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # encoding/json writes 1, not 1.0
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"json: unsupported value: {go_str(value)}")
    return value


def _html_safe(text: str) -> str:
    """encoding/json escapes <, > and & (and U+2028/9) unless told not to."""
    for raw, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, esc)
    return text


def _dumps(value: Any, pretty: bool) -> str:
    if pretty:
        return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False, indent=2)
    return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def to_json(value: Any) -> str:
    return _html_safe(_dumps(value, pretty=False))


def to_json_pretty(value: Any) -> str:
    return _html_safe(_dumps(value, pretty=True))


def to_unescaped_json(value: Any) -> str:
    return _dumps(value, pretty=False)


def to_unescaped_json_pretty(value: Any) -> str:
    return _dumps(value, pretty=True)


# ---- time ------------------------------------------------------------------

_GO_LAYOUT = [
    ("2006", "%Y"),
    ("January", "%B"),
    ("Jan", "%b"),
    ("Monday", "%A"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("Z07:00", "%:z"),
    ("-07:00", "%:z"),
    ("-0700", "%z"),
    ("01", "%m"),
    ("02", "%d"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("PM", "%p"),
    ("06", "%y"),
]


def _go_strftime(when: dt.datetime, layout: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(layout):
        for go, py in _GO_LAYOUT:
            if layout.startswith(go, i):
                if go == "Z07:00" and when.utcoffset() == dt.timedelta(0):
                    out.append("Z")
                else:
                    out.append(when.strftime(py))
                i += len(go)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def timestamp(*args: Any) -> str:
    """Now, as RFC 3339 (UTC), `"unix"` seconds, or a Go time layout."""
    now = dt.datetime.now(dt.UTC)
    if not args:
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    layout = text_arg(args[0])
    if layout == "unix":
        return str(int(now.timestamp()))
    return _go_strftime(now, layout)


# ---- math --------------------------------------------------------------


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, (str, NomadVarItem)):
            text = text_arg(value)
            try:
                return int(text)
            except ValueError:
                return float(text)
        raise ValueError(f"unknown type for {go_str(value)!r} ({go_type(value)})")
    return value


def add(b: Any, a: Any) -> int | float:
    return _number(a) + _number(b)


def subtract(b: Any, a: Any) -> int | float:
    return _number(a) - _number(b)


def multiply(b: Any, a: Any) -> int | float:
    return _number(a) * _number(b)


def divide(b: Any, a: Any) -> int | float:
    x, y = _number(a), _number(b)
    if y == 0:
        raise ValueError("division by zero")
    if isinstance(x, int) and isinstance(y, int):
        return int(x / y)  # Go truncates toward zero
    return x / y


def modulo(b: Any, a: Any) -> int | float:
    x, y = _number(a), _number(b)
    if y == 0:
        raise ValueError("division by zero")
    return math.fmod(x, y) if isinstance(x, float) or isinstance(y, float) else int(math.fmod(x, y))


def minimum(b: Any, a: Any) -> int | float:
    return min(_number(a), _number(b))


def maximum(b: Any, a: Any) -> int | float:
    return max(_number(a), _number(b))


def by_tag(services: Any) -> dict[str, list[Any]]:
    if not isinstance(services, (list, tuple)):
        raise ValueError(f"byTag: wrong argument type {go_type(services)}")
    out: dict[str, list[Any]] = {}
    for svc in services:
        tags = svc.Tags if isinstance(svc, (NomadService, GoStruct)) else None
        for tag in tags or []:
            out.setdefault(tag, []).append(svc)
    return out


HELPERS: dict[str, Callable[..., Any]] = {
    "split": split,
    "join": join,
    "replaceAll": replace_all,
    "trimSpace": trim_space,
    "trim": trim,
    "trimPrefix": trim_prefix,
    "trimSuffix": trim_suffix,
    "toLower": lambda s: text_arg(s).lower(),
    "toUpper": lambda s: text_arg(s).upper(),
    "toTitle": to_title,
    "indent": indent,
    "contains": contains,
    "containsAll": contains_all,
    "containsAny": contains_any,
    "containsNone": contains_none,
    "containsNotAll": contains_not_all,
    "in": in_,
    "regexMatch": regex_match,
    "regexReplaceAll": regex_replace_all,
    "loop": loop,
    "base64Decode": base64_decode,
    "base64Encode": base64_encode,
    "base64URLDecode": base64_url_decode,
    "base64URLEncode": base64_url_encode,
    "sha256Hex": sha256_hex,
    "md5sum": md5sum,
    "hmacSHA256Hex": hmac_sha256_hex,
    "parseBool": parse_bool,
    "parseInt": parse_int,
    "parseUint": parse_uint,
    "parseFloat": parse_float,
    "parseJSON": parse_json,
    "toJSON": to_json,
    "toJSONPretty": to_json_pretty,
    "toUnescapedJSON": to_unescaped_json,
    "toUnescapedJSONPretty": to_unescaped_json_pretty,
    "timestamp": timestamp,
    "add": add,
    "subtract": subtract,
    "multiply": multiply,
    "divide": divide,
    "modulo": modulo,
    "minimum": minimum,
    "maximum": maximum,
    "byTag": by_tag,
}
