"""Policies -> ACL, merged as Nomad's NewACL merges them.

- Rules for the same namespace (or host volume, or variables path) glob
  merge their capabilities; a `deny` for that glob, in any policy, wins and
  leaves only `deny`.
- Coarse levels (node, agent, operator, quota, plugin) take the most
  privilege, except that `deny` anywhere wins: deny > write > read > list.
- Which glob governs a namespace is model.py's business (closest glob).

Pure: no I/O, no caching (resolve.py caches compiled ACLs).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .capabilities import DENY
from .model import ACL, NamespaceRule
from .policy import Policy

K = TypeVar("K")
_RANK = {"deny": 4, "write": 3, "read": 2, "list": 1}


def max_privilege(a: str, b: str) -> str:
    """Nomad's maxPrivilege: deny beats everything, then write, read, list."""
    return max((a, b), key=lambda level: _RANK.get(level, 0)) if (a or b) else ""


def _merge(into: dict[K, set[str]], key: K, capabilities: Iterable[str]) -> None:
    current = into.setdefault(key, set())
    if DENY in current:
        return
    granted = set(capabilities)
    if DENY in granted:
        current.clear()
        current.add(DENY)
        return
    current |= granted


def compile_acl(policies: Iterable[Policy], names: Iterable[str] = ()) -> ACL:
    """The ACL a token holding `policies` gets (`names`: their policy names)."""
    namespaces: dict[str, set[str]] = {}
    volumes: dict[str, set[str]] = {}
    variables: dict[tuple[str, str], set[str]] = {}
    levels = {"node": "", "agent": "", "operator": "", "quota": "", "plugin": ""}
    for policy in policies:
        for ns in policy.namespaces:
            _merge(namespaces, ns.name, ns.capabilities)
            for var in ns.variables:
                _merge(variables, (ns.name, var.path), var.capabilities)
        for hv in policy.host_volumes:
            _merge(volumes, hv.name, hv.capabilities)
        for level in levels:
            levels[level] = max_privilege(levels[level], getattr(policy, level))
    return ACL(
        namespaces=tuple(
            NamespaceRule(pattern, frozenset(c)) for pattern, c in sorted(namespaces.items())
        ),
        host_volumes=tuple(
            NamespaceRule(pattern, frozenset(c)) for pattern, c in sorted(volumes.items())
        ),
        variables=tuple((ns, path, frozenset(c)) for (ns, path), c in sorted(variables.items())),
        policies=tuple(names),
        node=levels["node"],
        agent=levels["agent"],
        operator=levels["operator"],
        quota=levels["quota"],
        plugin=levels["plugin"],
    )
