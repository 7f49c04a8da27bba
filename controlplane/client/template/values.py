"""Go's view of Python values inside templates: how they print (fmt's %v),
their truth (text/template's isTrue), Go type names for error messages, and
the struct types the Nomad functions return (NomadService, NomadVarItems,
...). Pure; no I/O.

Python None stands for Go's nil and for text/template's "no value" (a
missing map key); printed at the top of an action it is `<no value>`, inside
a container `<nil>`.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

NO_VALUE = "<no value>"


class GoStruct:
    """A Go struct seen from a template: exported fields are attributes
    (listed in `_fields`, in Go's order); `_methods` are callable by name."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _methods: ClassVar[frozenset[str]] = frozenset()
    go_type: ClassVar[str] = "struct"
    pointer: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        for name in self._fields:
            setattr(self, name, values.get(name))

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are not fields (those are set in __init__)
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields
        )

    def __hash__(self) -> int:
        return hash(tuple(repr(getattr(self, f)) for f in self._fields))

    def __repr__(self) -> str:
        inner = " ".join(go_repr(getattr(self, f)) for f in self._fields)
        return ("&{" if self.pointer else "{") + inner + "}"


class NomadService(GoStruct):
    """One registration, as consul-template's nomadService returns it."""

    _fields = ("ID", "Name", "Node", "Address", "Port", "Datacenter", "Tags", "JobID", "AllocID")
    go_type = "*dependency.NomadService"
    pointer = True


class NomadServicesSnippet(GoStruct):
    """One entry of nomadServices: a service name and its tags."""

    _fields = ("Name", "Tags")
    go_type = "*dependency.NomadServicesSnippet"
    pointer = True


class NomadVarMeta(GoStruct):
    """A variable's metadata (nomadVarList entries); prints as its path."""

    _fields = ("Namespace", "Path", "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime")
    go_type = "*dependency.NomadVarMeta"
    pointer = True

    def __str__(self) -> str:
        return str(self.Path)


class NomadVarItem(GoStruct):
    """One item of a variable: `.Key`, `.Value`; prints as its value."""

    _fields = ("Key", "Value")
    go_type = "dependency.NomadVarItem"

    def __str__(self) -> str:
        return str(self.Value)


class NomadVarItems(dict[str, NomadVarItem]):
    """nomadVar's result: a map of key -> NomadVarItem, with Go methods."""

    _methods: ClassVar[frozenset[str]] = frozenset(
        {"Keys", "Values", "Tuples", "ItemsMap", "Metadata", "Parent"}
    )
    go_type = "dependency.NomadVarItems"

    def __init__(self, items: Mapping[str, Any], meta: NomadVarMeta | None = None) -> None:
        super().__init__({k: NomadVarItem(Key=k, Value=str(v)) for k, v in items.items()})
        self.meta = meta

    def Keys(self) -> list[str]:
        return sorted(self)

    def Values(self) -> list[str]:
        return [self[k].Value for k in sorted(self)]

    def Tuples(self) -> list[dict[str, str]]:
        return [{"K": k, "V": self[k].Value} for k in sorted(self)]

    def ItemsMap(self) -> dict[str, str] | None:
        return {k: v.Value for k, v in self.items()} or None

    def Metadata(self) -> NomadVarMeta | None:
        return self.meta

    def Parent(self) -> NomadVarMeta | None:
        return self.meta


def has_method(value: Any, name: str) -> bool:
    return name in getattr(type(value), "_methods", frozenset())


# ---- types, truth ------------------------------------------------------


def go_type(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    explicit = getattr(type(value), "go_type", None)
    if isinstance(explicit, str):
        return explicit
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    return type(value).__name__


def is_true(value: Any) -> bool:
    """text/template's truth: the zero value and empty containers are false."""
    if value is None:
        return False
    if isinstance(value, GoStruct):
        return True
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


# ---- printing (fmt %v) -------------------------------------------------


def go_float(value: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v prints it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digit_tuple, exp = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exp  # decimal point position relative to the digits
    x = point - 1  # scientific exponent
    neg = "-" if sign else ""
    # shortest 'g': exponent form below 1e-4 and from 1e6 on (fmt.Print(1e6) is 1e+06)
    if x < -4 or x >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"


def go_repr(value: Any) -> str:
    """%v of a value nested in a container (nil prints `<nil>`)."""
    if value is None:
        return "<nil>"
    return go_str(value)


def go_str(value: Any) -> str:
    """%v of a value, as fmt.Sprint prints it (a Stringer prints its String())."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{go_repr(k)}:{go_repr(value[k])}" for k in sorted_keys(value))
        return f"map[{inner}]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_repr(v) for v in value) + "]"
    return str(value)


_QUOTE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """strconv.Quote: a double-quoted Go string literal."""
    out = ['"']
    for ch in text:
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def print_value(value: Any) -> str:
    """What `{{ pipeline }}` writes."""
    if value is None:
        return NO_VALUE
    return go_str(value)


def sorted_keys(mapping: Mapping[Any, Any]) -> list[Any]:
    """Go iterates and prints maps in key order."""
    keys: Iterable[Any] = mapping.keys()
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=str)
