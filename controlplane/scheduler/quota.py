"""QuotaTracker: the quota of the evaluated job's namespace, as this plan changes it.

The state's usage is read once per scheduling run, and only when a placement
is checked (a run that places nothing never pays for it); after that every
stop, back-out and placement of the plan adjusts it in O(1), so a run with
N placements costs one usage read plus N comparisons. A placement the quota
cannot take is not a failure of the cluster: the scheduler reports it with
`QuotaExhausted` and the worker blocks the evaluation with
`QuotaLimitReached` until the quota's usage drops or its limit changes.
Never decides placement beyond that yes/no.
"""

from __future__ import annotations

from controlplane.state.quota_usage import (
    ZERO,
    QuotaAmounts,
    alloc_amounts,
    enforced,
    exhausted,
    group_amounts,
    namespace_quota,
    quota_usage,
)
from controlplane.state.reads import Reads
from controlplane.structs import Allocation, AllocMetric, Job, TaskGroup
from controlplane.structs.job import Resources

from .feasible import Candidates
from .metrics import MetricRecorder


class QuotaTracker:
    def __init__(self, view: object, job: Job) -> None:
        spec = namespace_quota(view, job.namespace)
        limit = spec.limit_for(job.region) if spec is not None else None
        self.name = spec.name if spec is not None else ""
        self._spec = spec
        self._view = view
        self._limit: Resources | None = None
        if limit is not None and enforced(limit):
            self._limit = limit.region_limit
        self._base: QuotaAmounts | None = None
        self._delta = ZERO
        self._stopped: dict[str, QuotaAmounts] = {}
        self._placed: set[str] = set()
        # set once a placement was refused: the blocked eval names the quota
        self.reached = False

    @property
    def active(self) -> bool:
        return self._limit is not None

    def stopped(self, alloc: Allocation) -> None:
        """The plan stops `alloc` (as stored): what it held is free again."""
        if self._limit is None or alloc.terminal() or alloc.id in self._stopped:
            return
        amounts = alloc_amounts(alloc)
        self._stopped[alloc.id] = amounts
        self._delta = self._delta - amounts

    def unstopped(self, alloc: Allocation) -> None:
        amounts = self._stopped.pop(alloc.id, None)
        if amounts is not None:
            self._delta = self._delta + amounts

    def placed(self, alloc: Allocation) -> None:
        """The plan adds a new allocation."""
        if self._limit is None or alloc.terminal() or alloc.id in self._placed:
            return
        self._placed.add(alloc.id)
        self._delta = self._delta + alloc_amounts(alloc)

    def used(self) -> QuotaAmounts:
        """Usage once the plan so far is applied."""
        if self._base is None:
            assert self._spec is not None and isinstance(self._view, Reads)
            self._base = quota_usage(self._view, self._spec)
        return self._base + self._delta

    def check(self, ask: QuotaAmounts) -> list[str]:
        """QuotaExhausted messages if one more `ask` does not fit ([] = it fits)."""
        if self._limit is None:
            return []
        out = exhausted(self._limit, self.used(), ask)
        if out:
            self.reached = True
        return out

    def check_group(self, tg: TaskGroup) -> list[str]:
        return self.check(group_amounts(tg)) if self._limit is not None else []


def quota_refusal(
    tracker: QuotaTracker | None, tg: TaskGroup, candidates: Candidates
) -> AllocMetric | None:
    """The failure metric when the quota cannot take one more alloc of `tg`.

    Checked before any node is tried: the answer does not depend on the node.
    """
    if tracker is None:
        return None
    reasons = tracker.check_group(tg)
    if not reasons:
        return None
    recorder = MetricRecorder(candidates.available, candidates.in_pool)
    return recorder.freeze().replace(quota_exhausted=reasons)


def reached(tracker: QuotaTracker | None) -> str:
    """QuotaLimitReached for the run's result: the quota's name if it refused."""
    return tracker.name if tracker is not None and tracker.reached else ""
