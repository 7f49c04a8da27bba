"""Property sets: how many of a job's proposed allocations sit on nodes with
each value of a node attribute (`${meta.rack}`, `${node.datacenter}`...).

Feeds distinct_property (a feasibility check) and spread (a ranking score);
counts only, decides nothing. Counts are taken over the proposed state:
what the store holds, minus this plan's stops, plus its placements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controlplane.structs import Allocation, Constraint, Job, Node, TaskGroup

from .constraints import DISTINCT_PROPERTY, resolve_target

NodeOf = Callable[[str], Node | None]


def property_counts(
    allocs: Iterable[Allocation],
    node_of: NodeOf,
    target: str,
    region: str,
    group: str | None = None,
) -> Counter[str]:
    """Allocs per value of `target` on their node; only `group`'s when given."""
    counts: Counter[str] = Counter()
    for alloc in allocs:
        if group is not None and alloc.task_group != group:
            continue
        node = node_of(alloc.node_id)
        if node is None:
            continue
        value, found = resolve_target(target, node, region)
        if found:
            counts[value] += 1
    return counts


@dataclass(frozen=True)
class _Rule:
    target: str
    limit: int
    group: str | None  # None: counts the whole job (a job-level constraint)


def _limit(raw: str) -> int:
    # Nomad: RTarget is the number of allocs allowed per value, default 1.
    try:
        return max(int(raw), 1) if raw.strip() else 1
    except ValueError:
        return 1


class DistinctProperty:
    """distinct_property constraints of one group (job level and group level)."""

    def __init__(self, job: Job, tg: TaskGroup) -> None:
        self.region = job.region
        self.rules = [
            _Rule(c.l_target, _limit(c.r_target), None) for c in _distinct(job.constraints)
        ] + [_Rule(c.l_target, _limit(c.r_target), tg.name) for c in _distinct(tg.constraints)]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def counter(self, allocs: list[Allocation], node_of: NodeOf) -> list[Counter[str]]:
        """Per rule, the current use of each value (computed once per placement)."""
        return [
            property_counts(allocs, node_of, r.target, self.region, r.group) for r in self.rules
        ]

    def reason(self, node: Node, used: list[Counter[str]]) -> str:
        """DISTINCT_PROPERTY when `node` lacks the property or its value is full."""
        for rule, counts in zip(self.rules, used, strict=True):
            value, found = resolve_target(rule.target, node, self.region)
            if not found or counts[value] >= rule.limit:
                return DISTINCT_PROPERTY
        return ""


def _distinct(constraints: Iterable[Constraint] | None) -> list[Constraint]:
    return [c for c in constraints or () if c.operand == DISTINCT_PROPERTY]
