"""Constraint evaluation: resolves `${...}` targets against a node and applies
Nomad's operators. Pure predicates over one node; knows nothing about
allocations, so plan-dependent constraints (distinct_hosts) live in feasible.py.
"""

from __future__ import annotations

import re
from functools import lru_cache

from controlplane.structs import Affinity, Constraint, Node

# Operators answered elsewhere (they need the plan, not just the node).
DISTINCT_HOSTS = "distinct_hosts"
DISTINCT_PROPERTY = "distinct_property"
PLAN_OPERATORS = frozenset({DISTINCT_HOSTS, DISTINCT_PROPERTY})


def constraint_string(c: Constraint) -> str:
    """The key Nomad uses in AllocMetric.ConstraintFiltered."""
    return f"{c.l_target} {c.operand} {c.r_target}"


def resolve_target(target: str, node: Node, region: str = "global") -> tuple[str, bool]:
    """Value of a constraint target on `node`, and whether it was found.

    Anything not wrapped in `${}` is a literal and always found. Nodes carry
    no region: every node a server schedules on is in that server's region,
    which is the job's (`region`).
    """
    if not target.startswith("${") or not target.endswith("}"):
        return target, True
    key = target[2:-1]
    match key:
        case "node.unique.id":
            return node.id, True
        case "node.unique.name":
            return node.name, True
        case "node.datacenter":
            return node.datacenter, True
        case "node.class":
            return node.node_class, True
        case "node.pool":
            return node.node_pool, True
        case "node.region":
            return region, True
    if key.startswith("attr."):
        value = node.attributes.get(key[len("attr.") :])
        return (value, True) if value is not None else ("", False)
    if key.startswith("meta."):
        value = (node.meta or {}).get(key[len("meta.") :])
        return (value, True) if value is not None else ("", False)
    return "", False


def node_satisfies(c: Constraint | Affinity, node: Node, region: str = "global") -> bool:
    """Does `node` satisfy constraint (or affinity) `c`? Plan-level operators pass here."""
    if c.operand in PLAN_OPERATORS:
        return True
    lval, lfound = resolve_target(c.l_target, node, region)
    rval, rfound = resolve_target(c.r_target, node, region)
    return check_operand(c.operand, lval, lfound, rval, rfound)


def check_operand(op: str, lval: str, lfound: bool, rval: str, rfound: bool) -> bool:
    """Nomad's checkConstraint: note `!=` is true when the attribute is missing."""
    match op:
        case "=" | "==" | "is":
            return lfound and rfound and lval == rval
        case "!=" | "not":
            return not (lfound == rfound and lval == rval)
        case "<" | "<=" | ">" | ">=":
            return lfound and rfound and _check_order(op, lval, rval)
        case "is_set":
            return lfound
        case "is_not_set":
            return not lfound
        case "regexp":
            return lfound and rfound and _regexp_match(lval, rval)
        case "set_contains" | "set_contains_all":
            return lfound and rfound and _split_set(rval) <= _split_set(lval)
        case "set_contains_any":
            return lfound and rfound and bool(_split_set(rval) & _split_set(lval))
        case "version" | "semver":
            return lfound and rfound and version_matches(lval, rval)
    return False


def _check_order(op: str, lval: str, rval: str) -> bool:
    # Numeric when both sides parse (ints first, then floats), else lexical.
    left: int | float | str
    right: int | float | str
    try:
        left, right = int(lval), int(rval)
    except ValueError:
        try:
            left, right = float(lval), float(rval)
        except ValueError:
            left, right = lval, rval
    match op:
        case "<":
            return left < right  # type: ignore[operator]
        case "<=":
            return left <= right  # type: ignore[operator]
        case ">":
            return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp_match(value: str, pattern: str) -> bool:
    # Go's MatchString is an unanchored search; an invalid pattern matches nothing.
    compiled = _compile(pattern)
    return compiled is not None and compiled.search(value) is not None


def _split_set(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


# --- versions (a go-version subset: segments, prerelease, metadata) ---------

_VERSION_RE = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.\-]+))?(?:\+[0-9A-Za-z.\-]+)?$")
_CONSTRAINT_RE = re.compile(r"^\s*(~>|>=|<=|!=|=|>|<)?\s*(\S+)\s*$")


class _Version:
    __slots__ = ("pre", "segments", "width")

    def __init__(self, segments: tuple[int, ...], pre: str) -> None:
        self.segments = segments
        self.width = len(segments)
        self.pre = pre

    def key(self, width: int) -> tuple[tuple[int, ...], int, tuple[tuple[int, int | str], ...]]:
        padded = self.segments + (0,) * (width - len(self.segments))
        # A release sorts after every prerelease of the same segments.
        pre_parts = tuple(
            (0, int(p)) if p.isdigit() else (1, p) for p in self.pre.split(".") if self.pre
        )
        return padded, 0 if self.pre else 1, pre_parts


def _parse_version(text: str) -> _Version | None:
    m = _VERSION_RE.match(text.strip())
    if m is None:
        return None
    return _Version(tuple(int(s) for s in m.group(1).split(".")), m.group(2) or "")


def _compare(a: _Version, b: _Version) -> int:
    width = max(a.width, b.width, 3)
    ka, kb = a.key(width), b.key(width)
    return (ka > kb) - (ka < kb)


def version_matches(value: str, constraint: str) -> bool:
    """go-version style: comma-separated `op version` terms, all must hold.

    A prerelease value only satisfies terms that themselves name a prerelease
    of the same segments (so `1.3.0-beta1` fails `>= 1.2`).
    """
    version = _parse_version(value)
    if version is None:
        return False
    for term in constraint.split(","):
        m = _CONSTRAINT_RE.match(term)
        if m is None:
            return False
        op, want = m.group(1) or "=", _parse_version(m.group(2))
        if want is None:
            return False
        if version.pre and not (want.pre and want.segments == version.segments):
            return False
        if not _term_holds(op, version, want):
            return False
    return True


def _term_holds(op: str, have: _Version, want: _Version) -> bool:
    cmp = _compare(have, want)
    match op:
        case "=":
            return cmp == 0
        case "!=":
            return cmp != 0
        case ">":
            return cmp > 0
        case "<":
            return cmp < 0
        case ">=":
            return cmp >= 0
        case "<=":
            return cmp <= 0
    # "~>": at least `want`, and the same leading segments except the last given one.
    if cmp < 0:
        return False
    prefix = want.segments[:-1] if want.width > 1 else want.segments
    return have.segments[: len(prefix)] == prefix
