"""HCL2 input variables and locals: substitutes `var.x` / `local.x` references.

Best effort, as python-hcl2 leaves expressions as `${...}` strings: a string
that is exactly one reference takes the referenced value (keeping its type);
references embedded in longer strings are rendered as text. Function calls
and operators are left alone. Runtime interpolations (`${NOMAD_*}`,
`${attr.*}`, `${node.*}`, `${meta.*}`) are never touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from controlplane.errors import JobSpecError

from .hcl import block_bodies

# `${var.name}` or `${local.name}` with an optional traversal (`.key`, `[0]`, `["k"]`).
_REF = re.compile(
    r"(?<!\$)\$\{\s*(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)"
    r"((?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\s*(?:\d+|\"[^\"]*\")\s*\])*)\s*\}"
)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[\s*(\d+|\"[^\"]*\")\s*\]")

_MISSING = object()


class _Scope:
    def __init__(
        self,
        variables: dict[str, Any],
        undefined: set[str],
        locals_raw: dict[str, Any],
        text: str,
        filename: str,
    ) -> None:
        self.variables = variables
        self.undefined = undefined
        self.locals_raw = locals_raw
        self.locals: dict[str, Any] = {}
        self.resolving: set[str] = set()
        self.text = text
        self.filename = filename

    def _line_of(self, kind: str, name: str) -> int | None:
        pattern = re.compile(rf"\b{kind}\.{re.escape(name)}\b")
        for number, line in enumerate(self.text.splitlines(), start=1):
            if pattern.search(line):
                return number
        return None

    def lookup(self, kind: str, name: str) -> Any:
        if kind == "var":
            if name in self.variables:
                return self.variables[name]
            line = self._line_of("var", name)
            if name in self.undefined:
                raise JobSpecError(
                    f'variable "{name}" is used but has no default and no value was given',
                    self.filename,
                    line,
                )
            raise JobSpecError(f'reference to undeclared variable "{name}"', self.filename, line)
        if name in self.locals:
            return self.locals[name]
        if name not in self.locals_raw:
            raise JobSpecError(
                f'reference to undeclared local value "{name}"',
                self.filename,
                self._line_of("local", name),
            )
        if name in self.resolving:
            raise JobSpecError(
                f'local value "{name}" refers to itself',
                self.filename,
                self._line_of("local", name),
            )
        self.resolving.add(name)
        value = substitute(self.locals_raw[name], self)
        self.resolving.discard(name)
        self.locals[name] = value
        return value


def _traverse(value: Any, path: str, ref: str) -> Any:
    for m in _STEP.finditer(path):
        key: str | int
        if m.group(1) is not None:
            key = m.group(1)
        elif m.group(2).startswith('"'):
            key = m.group(2)[1:-1]
        else:
            key = int(m.group(2))
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def substitute(value: Any, scope: _Scope) -> Any:
    """Replace var/local references throughout a value (recursively)."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value.strip())
        if whole is not None:
            base = scope.lookup(whole.group(1), whole.group(2))
            got = _traverse(base, whole.group(3), whole.group(0))
            return value if got is _MISSING else got

        def repl(m: re.Match[str]) -> str:
            base = scope.lookup(m.group(1), m.group(2))
            got = _traverse(base, m.group(3), m.group(0))
            return m.group(0) if got is _MISSING else _render(got)

        return _REF.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, scope) for k, v in value.items()}
    return value


def _coerce(raw: Any, declared_type: Any) -> Any:
    """-var values arrive as strings; honour a declared number/bool type."""
    if not isinstance(raw, str) or not isinstance(declared_type, str):
        return raw
    kind = declared_type.strip("${} ")
    try:
        if kind == "number":
            return float(raw) if "." in raw else int(raw)
        if kind == "bool":
            return {"true": True, "false": False}[raw]
    except (ValueError, KeyError):
        return raw
    return raw


def resolve(
    body: dict[str, Any],
    text: str,
    filename: str,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body without `variable`/`locals` blocks and with references substituted."""
    variables: dict[str, Any] = {}
    undefined: set[str] = set()
    declared_types: dict[str, Any] = {}
    for block in block_bodies(body.get("variable")):
        for name, decl in block.items():
            decl = decl[0] if isinstance(decl, list) and decl else decl
            decl = decl if isinstance(decl, dict) else {}
            declared_types[name] = decl.get("type")
            if "default" in decl:
                variables[name] = decl["default"]
            else:
                undefined.add(name)
    for name, raw in (overrides or {}).items():
        variables[name] = _coerce(raw, declared_types.get(name))
        undefined.discard(name)
    locals_raw: dict[str, Any] = {}
    for block in block_bodies(body.get("locals")):
        locals_raw.update(block)
    scope = _Scope(variables, undefined, locals_raw, text, filename)
    # Defaults may refer to nothing, but locals may refer to variables and locals.
    rest = {k: v for k, v in body.items() if k not in ("variable", "locals")}
    resolved: dict[str, Any] = substitute(rest, scope)
    return resolved
