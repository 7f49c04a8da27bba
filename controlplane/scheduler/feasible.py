"""Feasibility: which nodes may run a task group at all, regardless of load.

Cheap filters first: the candidate source keeps only ready, eligible nodes
in the job's datacenters and node pool; then job constraints, drivers, group
and task constraints (cached per node, they only read the node), and last
distinct_hosts, which depends on the allocations proposed so far. Capacity
is fit.py's job, preference is rank.py's.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from controlplane.structs import Constraint, Job, Node, TaskGroup
from controlplane.structs.consts import Eligibility, NodeStatus

from .constraints import DISTINCT_HOSTS, constraint_string, node_satisfies

MISSING_DRIVERS = "missing drivers"
ALL_POOLS = "all"
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def job_datacenters(job: Job) -> list[str]:
    return list(job.datacenters) if job.datacenters else ["*"]


def in_datacenters(node: Node, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(node.datacenter, p) for p in patterns)


def in_pool(node: Node, pool: str) -> bool:
    # The built-in "all" pool spans every node.
    return pool == ALL_POOLS or node.node_pool == (pool or "default")


def node_ready(node: Node) -> bool:
    """Ready for new work: up, eligible and not draining."""
    return (
        node.status == NodeStatus.READY
        and node.scheduling_eligibility == Eligibility.ELIGIBLE
        and not node.drain
    )


def node_tainted(node: Node | None) -> bool:
    """Allocations here are lost: the node is gone, down or disconnected.

    Disconnected counts as down until groups can opt into disconnect handling.
    """
    return node is None or node.status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED)


@dataclass(frozen=True)
class Candidates:
    """The candidate source for one evaluation, plus what AllocMetric reports.

    Shared between evaluations (candidates.py caches it): a tuple, and a
    mapping that is only ever read (a plain dict, which copies fastest).
    """

    nodes: tuple[Node, ...]
    available: Mapping[str, int]
    in_pool: int


def candidate_nodes(nodes: Iterable[Node], job: Job) -> Candidates:
    """Ready nodes in the job's datacenters and pool, in a stable (id) order.

    `available` counts them per datacenter; a datacenter named literally in
    the job with no ready node is reported as 0 so operators see why.
    """
    patterns = job_datacenters(job)
    literal = {dc for dc in patterns if not any(ch in dc for ch in "*?[")}
    globs = [dc for dc in patterns if dc not in literal]
    available = dict.fromkeys((dc for dc in patterns if dc in literal), 0)
    # Per datacenter, not per node: a cluster has few and many nodes.
    dc_match: dict[str, bool] = {}
    pool = job.node_pool
    ready: list[Node] = []
    pool_count = 0
    for node in sorted(nodes, key=_node_id):
        if not node_ready(node) or not in_pool(node, pool):
            continue
        pool_count += 1
        dc = node.datacenter
        matched = dc_match.get(dc)
        if matched is None:
            matched = dc_match[dc] = dc in literal or in_datacenters(node, globs)
        if not matched:
            continue
        ready.append(node)
        available[node.datacenter] = available.get(node.datacenter, 0) + 1
    return Candidates(tuple(ready), available, pool_count)


def _node_id(node: Node) -> str:
    return node.id


def driver_healthy(node: Node, driver: str) -> bool:
    info = node.drivers.get(driver)
    if info is not None:
        return info.detected and info.healthy
    # Older fingerprints only publish the `driver.<name>` attribute.
    return node.attributes.get(f"driver.{driver}", "") in _TRUE


def _distinct_hosts(constraints: Iterable[Constraint] | None) -> bool:
    return any(
        c.operand == DISTINCT_HOSTS and c.r_target.strip().lower() not in ("false", "0")
        for c in constraints or ()
    )


class GroupFeasibility:
    """Node-only checks for one task group, memoised per node id.

    Node-only results cannot change within one scheduler run, so each node
    is checked once per group however many allocs are placed.
    """

    def __init__(self, job: Job, tg: TaskGroup) -> None:
        self.job = job
        self.tg = tg
        self._job_constraints = list(job.constraints or ())
        self._drivers = sorted({t.driver for t in tg.tasks if t.driver})
        self._group_constraints = list(tg.constraints or ())
        for task in tg.tasks:
            self._group_constraints.extend(task.constraints or ())
        self._job_distinct = _distinct_hosts(job.constraints)
        self._group_distinct = _distinct_hosts(tg.constraints)
        # Whether distinct_hosts_reason can say anything at all.
        self.distinct_hosts = self._job_distinct or self._group_distinct
        self._region = job.region
        self._cache: dict[str, str] = {}

    def static_reason(self, node: Node) -> str:
        """Why `node` can never run this group ("" when it can)."""
        cached = self._cache.get(node.id)
        if cached is None:
            cached = self._check(node)
            self._cache[node.id] = cached
        return cached

    def _check(self, node: Node) -> str:
        for c in self._job_constraints:
            if not node_satisfies(c, node, self._region):
                return constraint_string(c)
        if not all(driver_healthy(node, d) for d in self._drivers):
            return MISSING_DRIVERS
        for c in self._group_constraints:
            if not node_satisfies(c, node, self._region):
                return constraint_string(c)
        return ""

    def distinct_hosts_reason(self, on_node: Callable[[str | None], int]) -> str:
        """DISTINCT_HOSTS when the node's proposed allocs already break the constraint.

        `on_node(group)` counts the job's proposed allocs on the node in
        `group` (None: in any group).
        """
        if self._job_distinct:
            return DISTINCT_HOSTS if on_node(None) else ""
        if self._group_distinct:
            return DISTINCT_HOSTS if on_node(self.tg.name) else ""
        return ""
