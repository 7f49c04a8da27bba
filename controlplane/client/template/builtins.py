"""text/template's predefined functions (eq ne lt le gt ge not len index slice
print printf println html js urlquery), with Go's rules and error texts.
`and` and `or` short-circuit, so the renderer evaluates them itself. Pure.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from .printf import sprint, sprintf, sprintln
from .values import GoStruct, NomadVarItem, go_type, is_true


def _basic(value: Any) -> Any:
    """The comparable form of a value (a variable item compares as its text)."""
    if isinstance(value, NomadVarItem):
        return value.Value
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, GoStruct):
        return "struct"
    return "other"


def _eq2(a: Any, b: Any) -> bool:
    a, b = _basic(a), _basic(b)
    ka, kb = _kind(a), _kind(b)
    if ka == "nil" or kb == "nil":
        return ka == kb
    if ka == "other" or kb == "other":
        raise ValueError(f"non-comparable type {go_type(a if ka == 'other' else b)}")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    return bool(a == b)


def eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise ValueError("missing argument for comparison")
    return any(_eq2(arg1, b) for b in args)


def ne(a: Any, b: Any) -> bool:
    return not _eq2(a, b)


def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    a, b = _basic(a), _basic(b)
    ka, kb = _kind(a), _kind(b)
    if ka not in ("number", "string") or kb not in ("number", "string"):
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    return a, b


def lt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x < y)


def le(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x <= y)


def gt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x > y)


def ge(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x >= y)


def not_(value: Any) -> bool:
    return not is_true(value)


def length(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())  # Go counts bytes
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    if value is None:
        raise ValueError("len of nil pointer")
    raise ValueError(f"len of type {go_type(value)}")


def _int_index(value: Any, cap: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"cannot index slice/array with type {go_type(value)}")
    if value < 0 or value >= cap:
        raise ValueError(f"index out of range: {value}")
    return value


def index(item: Any, *indexes: Any) -> Any:
    for key in indexes:
        if item is None:
            raise ValueError("index of untyped nil")
        if isinstance(item, Mapping):
            item = item.get(_basic(key)) if isinstance(_basic(key), str) else item.get(key)
        elif isinstance(item, (list, tuple)):
            item = item[_int_index(key, len(item))]
        elif isinstance(item, str):
            item = item.encode()[_int_index(key, len(item.encode()))]
        else:
            raise ValueError(f"can't index item of type {go_type(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, (str, list, tuple)):
        raise ValueError(f"can't slice item of type {go_type(item)}")
    if len(indexes) > 2 + (not isinstance(item, str)):
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    size = len(item.encode()) if isinstance(item, str) else len(item)
    bounds = [_int_index(i, size + 1) for i in indexes]
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else size
    if lo > hi:
        raise ValueError(f"invalid slice index: {lo} > {hi}")
    if isinstance(item, str):
        return item.encode()[lo:hi].decode(errors="replace")
    return list(item[lo:hi])


def html(*args: Any) -> str:
    text = sprint(*args)
    for raw, esc in (("&", "&amp;"), ("'", "&#39;"), ('"', "&#34;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, esc)
    return text.replace("\x00", "\ufffd")


_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
    "\n": "\\u000A",
    "\r": "\\u000D",
    "\t": "\\u0009",
}


def js(*args: Any) -> str:
    return "".join(_JS.get(ch, ch) for ch in sprint(*args))


def urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(sprint(*args), safe="~")


def printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise ValueError(f"wrong type for value; expected string; got {go_type(fmt)}")
    return sprintf(fmt, *args)


BUILTINS: dict[str, Callable[..., Any]] = {
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "not": not_,
    "len": length,
    "index": index,
    "slice": slice_,
    "print": sprint,
    "printf": printf,
    "println": sprintln,
    "html": html,
    "js": js,
    "urlquery": urlquery,
}
