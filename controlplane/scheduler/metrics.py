"""MetricRecorder: counts why nodes were filtered or exhausted during one
placement attempt, frozen into the AllocMetric that operators read
("2 nodes excluded by filtering", "Dimension memory exhausted on 1 node").
"""

from __future__ import annotations

from collections import Counter

from controlplane.structs import AllocMetric, Node

# Keep alloc metrics small: only the best few nodes' scores are recorded.
_MAX_SCORES = 5


class MetricRecorder:
    def __init__(self, available: dict[str, int], in_pool: int) -> None:
        self.available = dict(available)
        self.in_pool = in_pool
        self.evaluated = 0
        self.filtered = 0
        self.exhausted = 0
        self.class_filtered: Counter[str] = Counter()
        self.constraint_filtered: Counter[str] = Counter()
        self.class_exhausted: Counter[str] = Counter()
        self.dimension_exhausted: Counter[str] = Counter()
        self.scores: dict[str, float] = {}

    def evaluate(self) -> None:
        self.evaluated += 1

    def filter(self, node: Node, reason: str) -> None:
        self.filtered += 1
        if node.node_class:
            self.class_filtered[node.node_class] += 1
        self.constraint_filtered[reason] += 1

    def exhaust(self, node: Node, dimension: str) -> None:
        self.exhausted += 1
        if node.node_class:
            self.class_exhausted[node.node_class] += 1
        self.dimension_exhausted[dimension] += 1

    def score(self, node: Node, name: str, value: float) -> None:
        self.scores[f"{node.id}.{name}"] = value

    def freeze(self) -> AllocMetric:
        best = sorted(self.scores.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_SCORES]
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
