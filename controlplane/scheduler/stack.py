"""Placement stack: feasibility -> fit -> rank -> limit -> select, one alloc at a time.

The candidates are put in one random order per run from the seed (so equal
scores do not always favour the same node); the order is drawn only as far
as placements read it, never as a full shuffle of the cluster. Nodes are
pulled in that order until `limit` of them are feasible, fit and scored
(Nomad's power-of-two-choices); up to three that score <= 0 are passed over
and kept as fallbacks for when the list runs out. The best of those scored
wins.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
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


class _NoDraws(random.Random):
    """The port generator of a group with no dynamic port: offer_resources
    never draws from it (group_ask counts the networks it assigns). A draw
    would break determinism, as it is shared, so it fails loudly instead."""

    def random(self) -> float:
        raise RuntimeError("scheduler: port drawn for a group without dynamic ports")

    def getrandbits(self, k: int, /) -> int:
        raise RuntimeError("scheduler: port drawn for a group without dynamic ports")


_NO_DRAWS = _NoDraws()


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


class ShuffledNodes:
    """Nodes in a uniformly random order, drawn only as far as they are read.

    A forward Fisher-Yates shuffle: slot i is drawn from the slots not yet
    drawn the first time a reader gets that far, so a run pays for the
    prefix its placements read (about `limit` nodes each, while they keep
    fitting), not for shuffling every node of the cluster. Every iteration
    yields the same order from the start; the source is never changed.
    """

    def __init__(self, nodes: Sequence[Node], rng: random.Random) -> None:
        self._order = list(nodes)
        self._drawn = 0
        self._rng = rng

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Node]:
        order = self._order
        n = len(order)
        for i in range(n):
            # Iterators read in step from 0, so slot i is drawn or next.
            if i == self._drawn:
                j = self._rng.randrange(i, n)
                order[i], order[j] = order[j], order[i]
                self._drawn = i + 1
            yield order[i]


class GenericStack:
    def __init__(self, ctx: EvalContext, job: Job, candidates: Candidates) -> None:
        self.ctx = ctx
        self.job = job
        self.candidates = candidates
        self.nodes = ShuffledNodes(candidates.nodes, ctx.rng)
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
        # Per node below, so what does not apply to the group is decided once.
        ctx = self.ctx
        namespace, job_id, group, count = job.namespace, job.id, tg.name, tg.count
        distinct = ranking.distinct if ranking.distinct else None
        affinities, spreads = ranking.affinities, ranking.spreads
        for node in self.nodes:
            if len(chosen) >= limit:
                break
            metric.evaluate()
            node_id = node.id
            reason = checker.static_reason(node)
            if not reason and checker.distinct_hosts:
                on_node = partial(ctx.group_count, node_id, namespace, job_id)
                reason = checker.distinct_hosts_reason(on_node)
            if not reason and distinct is not None:
                reason = distinct.reason(node, distinct_used)
            if reason:
                metric.filter(node, reason)
                continue
            fit = check_fit(node, ctx.load(node), ranking.ask)
            if isinstance(fit, str):
                metric.exhaust(node, fit)
                continue
            scores = [binpack_score(fit.used, fit.capacity)]
            anti = job_anti_affinity(ctx.group_count(node_id, namespace, job_id, group), count)
            if anti is not None:
                scores.append(anti)
            if node_id in penalty_nodes:
                scores.append(-1.0)
            if affinities:
                affinity = affinity_score(node, affinities, region)
                if affinity is not None:
                    scores.append(affinity)
            if spreads:
                spread = spread_score(node, spreads, spread_used, count, region)
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
        # Only dynamic ports draw from the generator, and seeding one costs
        # more than scoring a node: without them it is never made.
        rng = self.ctx.port_rng(node.id, alloc_name) if ranking.ask.dynamic_ports else _NO_DRAWS
        offer = offer_resources(node, tg, self.ctx.load(node).ports, rng)
        if isinstance(offer, str):
            metric.exhaust(node, offer)
            return None, metric.freeze()
        return Selection(node, offer, score), metric.freeze()
