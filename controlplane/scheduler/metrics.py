"""MetricRecorder: counts why nodes were filtered or exhausted during one
placement attempt, frozen into the AllocMetric that operators read
("2 nodes excluded by filtering", "Dimension memory exhausted on 1 node").
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.structs import AllocMetric, Node

# Keep alloc metrics small: only the best few nodes' scores are recorded.
_MAX_SCORES = 5


def _count(counts: dict[str, int], key: str) -> None:
    # Plain dicts, not Counters: a recorder is made per placement attempt.
    counts[key] = counts.get(key, 0) + 1


def _score_order(kv: tuple[str, float]) -> tuple[float, str]:
    return -kv[1], kv[0]


class MetricRecorder:
    def __init__(self, available: Mapping[str, int], in_pool: int) -> None:
        # Read-only here (the candidate source's, shared); copied by freeze.
        self.available = available
        self.in_pool = in_pool
        self.evaluated = 0
        self.filtered = 0
        self.exhausted = 0
        self.class_filtered: dict[str, int] = {}
        self.constraint_filtered: dict[str, int] = {}
        self.class_exhausted: dict[str, int] = {}
        self.dimension_exhausted: dict[str, int] = {}
        self.scores: dict[str, float] = {}

    def evaluate(self) -> None:
        self.evaluated += 1

    def filter(self, node: Node, reason: str) -> None:
        self.filtered += 1
        if node.node_class:
            _count(self.class_filtered, node.node_class)
        _count(self.constraint_filtered, reason)

    def exhaust(self, node: Node, dimension: str) -> None:
        self.exhausted += 1
        if node.node_class:
            _count(self.class_exhausted, node.node_class)
        _count(self.dimension_exhausted, dimension)

    def score(self, node: Node, name: str, value: float) -> None:
        self.scores[f"{node.id}.{name}"] = value

    def freeze(self) -> AllocMetric:
        best = sorted(self.scores.items(), key=_score_order)[:_MAX_SCORES]
        return AllocMetric(
            nodes_evaluated=self.evaluated,
            nodes_filtered=self.filtered,
            nodes_in_pool=self.in_pool,
            nodes_available=dict(self.available),
            class_filtered=dict(self.class_filtered) or None,
            constraint_filtered=dict(self.constraint_filtered) or None,
            nodes_exhausted=self.exhausted,
            class_exhausted=dict(self.class_exhausted) or None,
            dimension_exhausted=dict(self.dimension_exhausted) or None,
            scores=dict(best) or None,
        )
