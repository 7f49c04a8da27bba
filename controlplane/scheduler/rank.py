"""Ranking: scores for a feasible node that fits, combined as Nomad does.

Each scorer yields a value in roughly [-1, 1] or nothing (it does not apply);
the final score is the arithmetic mean of the values that applied. Scorers
never filter; feasibility and fit have already run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from controlplane.structs import Affinity, Node, Spread

from .constraints import node_satisfies, resolve_target
from .fit import Usage

BINPACK = "binpack"
JOB_ANTI_AFFINITY = "job-anti-affinity"
RESCHEDULE_PENALTY = "node-reschedule-penalty"
NODE_AFFINITY = "node-affinity"
SPREAD = "allocation-spread"
# Spread targets without a value of their own share what the listed ones leave.
IMPLICIT_TARGET = "*"
NORMALIZED = "normalized-score"

# ScoreFitBinPack's range: 20 - (10**free_cpu + 10**free_mem) lies in [0, 18].
_BINPACK_MAX = 18.0


def binpack_score(used: Usage, capacity: Usage) -> float:
    """Nomad's ScoreFitBinPack normalised to [0, 1]: fuller nodes score higher.

    `used` is the node's total use with the candidate alloc added, so a
    perfect fill scores 1 and an empty node about 0.
    """
    free_cpu = 1.0 - used.cpu / capacity.cpu if capacity.cpu > 0 else 0.0
    free_mem = 1.0 - used.memory_mb / capacity.memory_mb if capacity.memory_mb > 0 else 0.0
    score = 20.0 - (10.0**free_cpu + 10.0**free_mem)
    return min(max(score, 0.0), _BINPACK_MAX) / _BINPACK_MAX


def job_anti_affinity(collisions: int, desired_count: int) -> float | None:
    """Penalty for stacking one group's allocs on a node: -(collisions+1)/count.

    `collisions` counts the group's proposed allocs already on the node.
    None when there are none, so the mean is not diluted for nodes without
    collisions (Nomad appends no score then).
    """
    if collisions == 0 or desired_count <= 0:
        return None
    return -(collisions + 1) / desired_count


def affinity_score(node: Node, affinities: Sequence[Affinity], region: str) -> float | None:
    """Matched weights over the sum of |weights|, in [-1, 1].

    None when nothing matched, so a node without a preference is not pulled
    towards 0 by a zero in the mean.
    """
    total = sum(abs(a.weight) for a in affinities)
    if total == 0:
        return None
    matched = sum(a.weight for a in affinities if node_satisfies(a, node, region))
    return matched / total if matched else None


def spread_score(
    node: Node,
    spreads: Sequence[Spread],
    used: Sequence[Counter[str]],
    count: int,
    region: str,
) -> float | None:
    """How much placing here moves the group towards its spread targets.

    Per spread (weighted by its share of all spread weights): with targets,
    (desired - used_after) / desired for the node's value, -1 when the value
    has no share; without targets, an even-spread boost. `used` holds, per
    spread, the group's proposed allocs per attribute value.
    """
    total_weight = sum(s.weight for s in spreads)
    if total_weight <= 0:
        return None
    score = 0.0
    for spread, counts in zip(spreads, used, strict=True):
        value, found = resolve_target(spread.attribute, node, region)
        if not spread.spread_target:
            score += _even_spread(counts, value, found)
            continue
        desired = _desired_counts(spread, count)
        want = desired.get(value, desired.get(IMPLICIT_TARGET, 0.0)) if found else 0.0
        if want <= 0:
            score -= 1.0
            continue
        after = counts[value] + 1
        score += (want - after) / want * (spread.weight / total_weight)
    return score if score else None


def _desired_counts(spread: Spread, count: int) -> dict[str, float]:
    desired = {t.value: t.percent / 100 * count for t in spread.spread_target or ()}
    rest = count - sum(desired.values())
    if rest > 0:
        desired.setdefault(IMPLICIT_TARGET, rest)
    return desired


def _even_spread(counts: Counter[str], value: str, found: bool) -> float:
    """Boost values used least, penalise the most used; -1 when all are even."""
    in_use = [n for n in counts.values() if n > 0]
    if not in_use:
        return 0.0
    if not found:
        return -1.0
    current = counts[value]
    low, high = min(in_use), max(in_use)
    if current != low:
        # Below the minimum only when unused (a full +1); above it, negative.
        return (low - current) / low
    if low == high:
        return -1.0
    return (high - current) / low


def final_score(scores: Iterable[float]) -> float:
    values = list(scores)
    return sum(values) / len(values) if values else 0.0
