"""The `env = true` file format (hashicorp/go-envparse): `KEY=value` lines,
an optional `export ` prefix, whitespace around key and value trimmed,
"double quotes" with \\n \\t \\\\ \\" escapes, 'single quotes' taken
literally, and `#` starting a comment outside quotes. Blank and comment
lines are skipped. Pure.
"""

from __future__ import annotations

import re

from .errors import TemplateError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def _value(raw: str, line: int, name: str) -> str:
    out: list[str] = []
    last_sig = 0  # length of the value up to its last significant character
    mode = "normal"
    for ch in raw:
        if ord(ch) < 32 and ch != "\t":
            raise TemplateError(f"0x{ord(ch):02x} is an invalid value character", name, line)
        if mode == "normal":
            if ch == '"':
                mode = "double"
            elif ch == "'":
                mode = "single"
            elif ch == "#":
                return "".join(out)[:last_sig]
            else:
                out.append(ch)
                if ch not in " \t":
                    last_sig = len(out)
        elif mode == "double":
            if ch == '"':
                mode = "normal"
            elif ch == "\\":
                mode = "escape"
            else:
                out.append(ch)
                last_sig = len(out)
        elif mode == "escape":
            if ch not in _ESCAPES:
                raise TemplateError(f"invalid escape sequence: {ch}", name, line)
            out.append(_ESCAPES[ch])
            last_sig = len(out)
            mode = "double"
        else:  # single
            if ch == "'":
                mode = "normal"
            else:
                out.append(ch)
                last_sig = len(out)
    if mode == "double":
        raise TemplateError('unmatched "', name, line)
    if mode == "single":
        raise TemplateError("unmatched '", name, line)
    if mode == "escape":
        raise TemplateError("incomplete escape sequence", name, line)
    return "".join(out)


def parse_env_file(text: str, name: str = "") -> dict[str, str]:
    """Variables of an env template's output; TemplateError names the line."""
    env: dict[str, str] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in line:
            raise TemplateError('missing "="', name, lineno)
        key, raw = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        if not key:
            raise TemplateError("empty key", name, lineno)
        if not _KEY.fullmatch(key):
            raise TemplateError(f"key must be [A-Za-z_][A-Za-z0-9_]*, found {key!r}", name, lineno)
        env[key] = _value(raw.strip(), lineno, name)
    return env
