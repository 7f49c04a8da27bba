"""Placement stack: feasibility -> fit -> rank -> limit -> select, one alloc at a time.

The candidate list is shuffled once per run from the seed (so equal scores
do not always favour the same node). Nodes are pulled lazily in that order
until `limit` of them are feasible, fit and scored (Nomad's
power-of-two-choices); up to three that score <= 0 are passed over and kept
as fallbacks for when the list runs out. The best of those scored wins.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import partial

from controlplane.structs import AllocatedResources, AllocMetric, Job, Node, TaskGroup
from controlplane.structs.consts import JobType

from .context import EvalContext
from .feasible import Candidates, GroupFeasibility
from .fit import GroupAsk, check_fit, group_ask, offer_resources
from .metrics import MetricRecorder
from .properties import DistinctProperty, property_counts
from .rank import (
    NORMALIZED,
    affinity_score,
    binpack_score,
    final_score,
    job_anti_affinity,
    spread_score,
)

BATCH_LIMIT = 2
MIN_SERVICE_LIMIT = 2
# With affinities or spreads the score matters more than the speed.
AFFINITY_SPREAD_LIMIT = 100
MAX_SKIP = 3


@dataclass(frozen=True)
class Selection:
    node: Node
    resources: AllocatedResources
    score: float


def node_limit(job: Job, tg: TaskGroup, candidates: int) -> int:
    """How many scored nodes to compare for one placement of `tg`."""
    affinities = bool(job.affinities or tg.affinities or any(t.affinities for t in tg.tasks))
    if affinities or job.spreads or tg.spreads:
        return max(tg.count, AFFINITY_SPREAD_LIMIT)
    if job.type == JobType.BATCH:
        return BATCH_LIMIT
    log = math.ceil(math.log2(candidates)) if candidates > 1 else 0
    return max(MIN_SERVICE_LIMIT, log)


class _GroupRanking:
    """What ranking one group needs, computed once per run."""

    def __init__(self, job: Job, tg: TaskGroup) -> None:
        self.ask: GroupAsk = group_ask(tg)
        self.affinities = [*(job.affinities or ()), *(tg.affinities or ())]
        for task in tg.tasks:
            self.affinities.extend(task.affinities or ())
        self.spreads = [*(job.spreads or ()), *(tg.spreads or ())]
        self.distinct = DistinctProperty(job, tg)


class GenericStack:
    def __init__(self, ctx: EvalContext, job: Job, candidates: Candidates) -> None:
        self.ctx = ctx
        self.job = job
        self.candidates = candidates
        nodes = list(candidates.nodes)
        ctx.rng.shuffle(nodes)
        self.nodes = nodes
        self._feasibility: dict[str, GroupFeasibility] = {}
        self._ranking: dict[str, _GroupRanking] = {}

    def feasibility(self, tg: TaskGroup) -> GroupFeasibility:
        if tg.name not in self._feasibility:
            self._feasibility[tg.name] = GroupFeasibility(self.job, tg)
        return self._feasibility[tg.name]

    def _ranking_for(self, tg: TaskGroup) -> _GroupRanking:
        if tg.name not in self._ranking:
            self._ranking[tg.name] = _GroupRanking(self.job, tg)
        return self._ranking[tg.name]

    def select(
        self,
        tg: TaskGroup,
        alloc_name: str,
        penalty_nodes: frozenset[str] = frozenset(),
    ) -> tuple[Selection | None, AllocMetric]:
        """Best node for one alloc of `tg`, with the metrics of the attempt.

        `penalty_nodes` (where a failed predecessor ran) get a -1 score, so a
        reschedule prefers another node but may still land there.
        """
        metric = MetricRecorder(self.candidates.available, self.candidates.in_pool)
        checker = self.feasibility(tg)
        ranking = self._ranking_for(tg)
        job = self.job
        region = job.region
        # Plan-dependent inputs, fixed for this placement.
        job_allocs = (
            self.ctx.job_allocs(job.namespace, job.id)
            if ranking.distinct or ranking.spreads
            else []
        )
        distinct_used = ranking.distinct.counter(job_allocs, self.ctx.node)
        spread_used: list[Counter[str]] = [
            property_counts(job_allocs, self.ctx.node, s.attribute, region, tg.name)
            for s in ranking.spreads
        ]
        limit = node_limit(job, tg, len(self.nodes))
        chosen: list[tuple[Node, float]] = []
        skipped: list[tuple[Node, float]] = []
        for node in self.nodes:
            if len(chosen) >= limit:
                break
            metric.evaluate()
            on_node = partial(self.ctx.group_count, node.id, job.namespace, job.id)
            reason = (
                checker.static_reason(node)
                or checker.distinct_hosts_reason(on_node)
                or (ranking.distinct.reason(node, distinct_used) if ranking.distinct else "")
            )
            if reason:
                metric.filter(node, reason)
                continue
            fit = check_fit(node, self.ctx.load(node), ranking.ask)
            if isinstance(fit, str):
                metric.exhaust(node, fit)
                continue
            scores = [binpack_score(fit.used, fit.capacity)]
            anti = job_anti_affinity(on_node(tg.name), tg.count)
            if anti is not None:
                scores.append(anti)
            if node.id in penalty_nodes:
                scores.append(-1.0)
            affinity = affinity_score(node, ranking.affinities, region)
            if affinity is not None:
                scores.append(affinity)
            if ranking.spreads:
                spread = spread_score(node, ranking.spreads, spread_used, tg.count, region)
                if spread is not None:
                    scores.append(spread)
            score = final_score(scores)
            metric.score(node, NORMALIZED, score)
            if score <= 0 and len(skipped) < MAX_SKIP:
                skipped.append((node, score))
            else:
                chosen.append((node, score))
        # Fallbacks fill what the list could not.
        chosen.extend(skipped[: max(limit - len(chosen), 0)])
        best: tuple[Node, float] | None = None
        for node, score in chosen:
            # Strictly greater: ties go to the earlier node in shuffled order.
            if best is None or score > best[1]:
                best = (node, score)
        if best is None:
            return None, metric.freeze()
        node, score = best
        # Ports are assigned for the winner only: check_fit already counted
        # enough free ones, so this offer only fails if that invariant breaks.
        offer = offer_resources(
            node, tg, self.ctx.load(node).ports, self.ctx.port_rng(node.id, alloc_name)
        )
        if isinstance(offer, str):
            metric.exhaust(node, offer)
            return None, metric.freeze()
        return Selection(node, offer, score), metric.freeze()
