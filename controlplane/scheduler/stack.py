"""Placement stack: feasibility -> fit -> rank -> select, for one alloc at a time.

The candidate list is shuffled once per run from the seed (so equal scores
do not always favour the same node) and every candidate is scored; a limit
iterator (Nomad's power-of-two-choices) can be slotted in later without
changing callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.structs import AllocatedResources, AllocMetric, Job, Node, TaskGroup

from .context import EvalContext
from .feasible import Candidates, GroupFeasibility
from .fit import GroupAsk, check_fit, group_ask, offer_resources
from .metrics import MetricRecorder
from .rank import NORMALIZED, binpack_score, final_score, job_anti_affinity


@dataclass(frozen=True)
class Selection:
    node: Node
    resources: AllocatedResources
    score: float


class GenericStack:
    def __init__(self, ctx: EvalContext, job: Job, candidates: Candidates) -> None:
        self.ctx = ctx
        self.job = job
        self.candidates = candidates
        nodes = list(candidates.nodes)
        ctx.rng.shuffle(nodes)
        self.nodes = nodes
        self._feasibility: dict[str, GroupFeasibility] = {}
        self._asks: dict[str, GroupAsk] = {}

    def feasibility(self, tg: TaskGroup) -> GroupFeasibility:
        if tg.name not in self._feasibility:
            self._feasibility[tg.name] = GroupFeasibility(self.job, tg)
        return self._feasibility[tg.name]

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
        if tg.name not in self._asks:
            self._asks[tg.name] = group_ask(tg)
        ask = self._asks[tg.name]
        best: tuple[Node, float] | None = None
        for node in self.nodes:
            metric.evaluate()
            reason = checker.static_reason(node)
            proposed = self.ctx.proposed(node.id)
            reason = reason or checker.distinct_hosts_reason(proposed)
            if reason:
                metric.filter(node, reason)
                continue
            fit = check_fit(node, self.ctx.load(node), ask)
            if isinstance(fit, str):
                metric.exhaust(node, fit)
                continue
            scores = [binpack_score(fit.used, fit.capacity)]
            penalty = job_anti_affinity(
                proposed, self.job.namespace, self.job.id, tg.name, tg.count
            )
            if penalty is not None:
                scores.append(penalty)
            if node.id in penalty_nodes:
                scores.append(-1.0)
            score = final_score(scores)
            metric.score(node, NORMALIZED, score)
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
