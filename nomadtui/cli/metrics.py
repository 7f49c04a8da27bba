"""Rendering of AllocMetric placement-failure details as bullet lines, shared
by `job status`, `eval status` and the evaluation monitor."""

from __future__ import annotations

from typing import Any


def _sorted_items(value: Any) -> list[tuple[str, Any]]:
    return sorted((value or {}).items())


def alloc_metric_lines(metric: dict[str, Any], prefix: str = "  ") -> list[str]:
    """Why placements failed, most fundamental reason first."""
    lines: list[str] = []
    # a quota refuses before any node is looked at: "no nodes eligible"
    # would send the operator hunting for a node problem there is not
    if not metric.get("NodesEvaluated") and not metric.get("QuotaExhausted"):
        lines.append("* No nodes were eligible for evaluation")
    for dc, available in _sorted_items(metric.get("NodesAvailable")):
        if not available:
            lines.append(f'* No nodes are available in datacenter "{dc}"')
    for cls, count in _sorted_items(metric.get("ClassFiltered")):
        lines.append(f'* Class "{cls}" filtered {count} nodes')
    for constraint, count in _sorted_items(metric.get("ConstraintFiltered")):
        lines.append(f'* Constraint "{constraint}" filtered {count} nodes')
    if metric.get("NodesExhausted"):
        lines.append(f"* Resources exhausted on {metric['NodesExhausted']} nodes")
    for cls, count in _sorted_items(metric.get("ClassExhausted")):
        lines.append(f'* Class "{cls}" exhausted on {count} nodes')
    for dim, count in _sorted_items(metric.get("DimensionExhausted")):
        lines.append(f'* Dimension "{dim}" exhausted on {count} nodes')
    for quota in metric.get("QuotaExhausted") or []:
        lines.append(f'* Quota limit hit "{quota}"')
    return [prefix + line for line in lines]


def failed_to_place(metric: dict[str, Any]) -> str:
    """`1 allocation` / `3 allocations` (coalesced failures plus the reported one)."""
    count = int(metric.get("CoalescedFailures") or 0) + 1
    return f"{count} allocation{'s' if count != 1 else ''}"
