"""The compiled ACL: immutable answers to "may this token do X?".

Built by compile.py from a token's policies; `MANAGEMENT` allows everything.
Coarse (node/agent/operator/quota/plugin) levels are "deny", "read", "write"
or "" (no rule: denied); "write" implies "read".

Which namespace rule applies (Nomad's acl.go): a rule naming the namespace
exactly wins; otherwise the matching glob with the fewest characters left
over (`len(name) - len(glob) + count("*")`), ties to the lexically first
glob. Only the chosen rule counts: `deny` on `*` does not take away what an
exact `default` rule grants, but a `deny` in the chosen rule denies all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .capabilities import ALL, DENY

# every variable capability but deny (what a management token holds)
VARIABLE_ALL = frozenset({"read", "write", "list", "destroy"})
READ = "read"
WRITE = "write"
LIST = "list"
ALL_NAMESPACES = "*"


@dataclass(frozen=True)
class NamespaceRule:
    """The capabilities a namespace glob grants (DENY present = denies all)."""

    pattern: str
    capabilities: frozenset[str]


def _glob_specificity(pattern: str, name: str) -> int | None:
    """How closely `pattern` matches `name` (higher wins), None if it does not."""
    if pattern == name:
        return 1 << 30
    if "*" not in pattern or not fnmatchcase(name, pattern):
        return None
    return -(len(name) - len(pattern) + pattern.count("*"))


def closest(rules: tuple[NamespaceRule, ...], name: str) -> NamespaceRule | None:
    """The rule that governs `name` (rules are kept sorted by pattern, so a
    tie goes to the lexically first glob, as Nomad's radix-tree walk)."""
    best: tuple[int, NamespaceRule] | None = None
    for rule in rules:
        score = _glob_specificity(rule.pattern, name)
        if score is not None and (best is None or score > best[0]):
            best = (score, rule)
    return None if best is None else best[1]


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
    host_volumes: tuple[NamespaceRule, ...] = ()
    # the policies this ACL was compiled from (a token may read those)
    policies: tuple[str, ...] = ()
    # namespace -> capabilities, filled on first use (the ACL is shared by
    # every request of a token, so each namespace is matched once)
    _memo: dict[str, frozenset[str]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def is_management(self) -> bool:
        return self.management

    # -- namespaces --------------------------------------------------------
    def namespace_capabilities(self, namespace: str) -> frozenset[str]:
        """The capabilities of the rule governing `namespace` (empty if denied)."""
        if self.management:
            return ALL - {DENY}
        found = self._memo.get(namespace)
        if found is None:
            rule = closest(self.namespaces, namespace)
            found = frozenset() if rule is None or DENY in rule.capabilities else rule.capabilities
            if len(self._memo) < 1024:
                self._memo[namespace] = found
        return found

    def allow_namespace_operation(self, namespace: str, capability: str) -> bool:
        """`capability` in `namespace`; for `*`, in any namespace (Nomad's sentinel)."""
        if self.management:
            return True
        if namespace == ALL_NAMESPACES:
            return any(
                DENY not in r.capabilities and capability in r.capabilities for r in self.namespaces
            )
        return capability in self.namespace_capabilities(namespace)

    def allow_namespace(self, namespace: str) -> bool:
        """Any capability at all in `namespace` (enough to see that it exists)."""
        if self.management:
            return True
        if namespace == ALL_NAMESPACES:
            return any(r.capabilities and DENY not in r.capabilities for r in self.namespaces)
        return bool(self.namespace_capabilities(namespace))

    def allow_host_volume_operation(self, volume: str, capability: str) -> bool:
        if self.management:
            return True
        rule = closest(self.host_volumes, volume)
        return (
            rule is not None and DENY not in rule.capabilities and capability in rule.capabilities
        )

    # -- variables ---------------------------------------------------------
    def variable_capabilities(self, namespace: str, path: str) -> frozenset[str]:
        """The capabilities of the `variables { path ... }` rule governing
        (namespace, path), as Nomad's matchingVariablesCapabilitySet: rules
        are keyed `namespace NUL path`; an exact key wins, else the closest
        glob over that key (namespace and path globs together)."""
        if self.management:
            return VARIABLE_ALL
        name = f"{namespace}\x00{path}"
        best: tuple[int, frozenset[str]] | None = None
        for ns_glob, path_glob, caps in self.variables:
            score = _glob_specificity(f"{ns_glob}\x00{path_glob}", name)
            if score is not None and (best is None or score > best[0]):
                best = (score, caps)
        return frozenset() if best is None else best[1]

    def allow_variable_operation(self, namespace: str, path: str, op: str) -> bool:
        """`op` (read, write, list, destroy) on a variable; `deny` in the
        governing rule denies everything (deny wins)."""
        if self.management:
            return True
        caps = self.variable_capabilities(namespace, path)
        return DENY not in caps and op in caps

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

    def allow_plugin_read(self) -> bool:
        return self._coarse(self.plugin, READ)

    def allow_plugin_list(self) -> bool:
        return self.management or self.plugin in (LIST, READ, WRITE)


MANAGEMENT = ACL(management=True)
EMPTY = ACL()
"""No capability at all: an anonymous request without an anonymous policy."""
