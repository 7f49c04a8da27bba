"""fmt.Sprintf / Sprint / Sprintln for templates: Go's common verbs (%v %s
%d %q %x %X %o %b %c %t %f %e %g, flags `-+# 0`, width and precision) and
Go's way of reporting misuse (`%!d(string=x)`, `%!s(MISSING)`). Pure.
"""

from __future__ import annotations

import re
from typing import Any

from .values import go_float, go_quote, go_str, go_type

_SPEC = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")


def _bad(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={go_str(arg)})"


def _pad(text: str, flags: str, width: int | None, numeric: bool = False) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+- " and text[:1] else ""
        body = text[len(sign) :]
        return sign + body.rjust(width - len(sign), "0")
    return text.rjust(width)


def _sign(text: str, flags: str, negative: bool) -> str:
    if negative:
        return text
    if "+" in flags:
        return "+" + text
    if " " in flags:
        return " " + text
    return text


def _int_verb(verb: str, arg: int, flags: str, prec: int | None) -> str:
    neg = arg < 0
    mag = abs(arg)
    if verb == "d":
        body = str(mag)
    elif verb == "x":
        body = format(mag, "x")
    elif verb == "X":
        body = format(mag, "X")
    elif verb == "o":
        body = format(mag, "o")
    elif verb == "O":
        body = "0o" + format(mag, "o")
    else:  # "b"
        body = format(mag, "b")
    if prec is not None:
        body = body.rjust(prec, "0")
    if "#" in flags:
        body = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}.get(verb, "") + body
    return _sign(("-" if neg else "") + body, flags, neg)


def _float_verb(verb: str, arg: float, flags: str, prec: int | None) -> str:
    if verb in ("g", "G") and prec is None:
        text = go_float(arg)
        text = text.upper() if verb == "G" else text
    else:
        py = {"f": "f", "F": "f", "e": "e", "E": "E", "g": "g", "G": "G"}[verb]
        text = format(arg, f".{6 if prec is None else prec}{py}")
    return _sign(text, flags, text.startswith("-"))


def _format_one(verb: str, arg: Any, flags: str, prec: int | None) -> tuple[str, bool]:
    """(text, numeric) for one verb and argument."""
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    if verb == "v":
        return go_str(arg), False
    if verb == "s":
        if isinstance(arg, (int, float, bool)) or arg is None:
            return _bad(verb, arg), False
        text = go_str(arg)
        return (text[:prec] if prec is not None else text), False
    if verb == "q":
        if is_int:
            return "'" + chr(arg) + "'", False
        if isinstance(arg, str):
            return go_quote(arg), False
        return _bad(verb, arg), False
    if verb == "t":
        return (go_str(arg) if isinstance(arg, bool) else _bad(verb, arg)), False
    if verb == "c":
        return (chr(arg) if is_int else _bad(verb, arg)), False
    if verb in "dxXoObB" and verb != "B":
        if is_int:
            return _int_verb(verb, arg, flags, prec), True
        if verb in "xX" and isinstance(arg, str):
            text = arg.encode().hex()
            return (text.upper() if verb == "X" else text), False
        if verb in "xX" and isinstance(arg, float):
            return _bad(verb, arg), False
        return _bad(verb, arg), False
    if verb in "feEFgG":
        if isinstance(arg, float):
            return _float_verb(verb, arg, flags, prec), True
        return _bad(verb, arg), False
    return f"%!{verb}({go_type(arg)}={go_str(arg)})", False


def sprintf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    pos = 0
    argi = 0

    def take() -> tuple[bool, Any]:
        nonlocal argi
        if argi >= len(args):
            return False, None
        argi += 1
        return True, args[argi - 1]

    for m in _SPEC.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        width: int | None = None
        prec: int | None = None
        if width_s == "*":
            ok, w = take()
            width = w if ok and isinstance(w, int) else None
        elif width_s:
            width = int(width_s)
        if prec_s == "*":
            ok, p = take()
            prec = p if ok and isinstance(p, int) else None
        elif prec_s is not None:
            prec = int(prec_s or "0")
        ok, arg = take()
        if not ok:
            out.append(f"%!{verb}(MISSING)")
            continue
        text, numeric = _format_one(verb, arg, flags, prec)
        out.append(_pad(text, flags, width, numeric))
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{go_type(a)}={go_str(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(*args: Any) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(arg))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(go_str(a) for a in args) + "\n"
