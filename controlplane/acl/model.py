"""The compiled ACL: immutable answers to "may this token do X?".

Built by compile.py from a token's policies; `MANAGEMENT` allows everything.
Coarse (node/agent/operator/quota/plugin) levels are "deny", "read", "write"
or "" (no rule: denied); "write" implies "read".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .capabilities import DENY

READ = "read"
WRITE = "write"


@dataclass(frozen=True)
class NamespaceRule:
    """The capabilities a namespace glob grants (DENY present = denies all)."""

    pattern: str
    capabilities: frozenset[str]


def _glob_specificity(pattern: str, name: str) -> int | None:
    """How closely `pattern` matches `name` (higher wins), None if it does not.

    Nomad picks the exact name first, else the matching glob with the fewest
    characters left over after the match (its "closest glob")."""
    if pattern == name:
        return 1 << 30
    if not fnmatchcase(name, pattern):
        return None
    return -(len(name) - len(pattern.replace("*", "")))


def _level_allows(level: str, want: str) -> bool:
    if level == WRITE:
        return True
    return level == READ and want == READ


@dataclass(frozen=True)
class ACL:
    management: bool = False
    namespaces: tuple[NamespaceRule, ...] = ()
    node: str = ""
    agent: str = ""
    operator: str = ""
    quota: str = ""
    plugin: str = ""
    # variables: (namespace glob, path glob) -> capabilities (issue 10)
    variables: tuple[tuple[str, str, frozenset[str]], ...] = field(default=())

    def is_management(self) -> bool:
        return self.management

    # -- namespaces --------------------------------------------------------
    def namespace_capabilities(self, namespace: str) -> frozenset[str]:
        """The capabilities of the most specific rule matching `namespace`."""
        if self.management:
            from .capabilities import ALL

            return ALL - {DENY}
        best: tuple[int, frozenset[str]] | None = None
        for rule in self.namespaces:
            score = _glob_specificity(rule.pattern, namespace)
            if score is not None and (best is None or score > best[0]):
                best = (score, rule.capabilities)
        if best is None or DENY in best[1]:
            return frozenset()
        return best[1]

    def allow_namespace_operation(self, namespace: str, capability: str) -> bool:
        return capability in self.namespace_capabilities(namespace)

    def allow_namespace(self, namespace: str) -> bool:
        """Any capability at all in `namespace` (enough to see that it exists)."""
        return bool(self.namespace_capabilities(namespace))

    # -- coarse rules ------------------------------------------------------
    def _coarse(self, level: str, want: str) -> bool:
        return self.management or _level_allows(level, want)

    def allow_node_read(self) -> bool:
        return self._coarse(self.node, READ)

    def allow_node_write(self) -> bool:
        return self._coarse(self.node, WRITE)

    def allow_agent_read(self) -> bool:
        return self._coarse(self.agent, READ)

    def allow_agent_write(self) -> bool:
        return self._coarse(self.agent, WRITE)

    def allow_operator_read(self) -> bool:
        return self._coarse(self.operator, READ)

    def allow_operator_write(self) -> bool:
        return self._coarse(self.operator, WRITE)

    def allow_quota_read(self) -> bool:
        return self._coarse(self.quota, READ)

    def allow_quota_write(self) -> bool:
        return self._coarse(self.quota, WRITE)


MANAGEMENT = ACL(management=True)
