"""Ranking: scores for a feasible node that fits, combined as Nomad does.

Each scorer yields a value in roughly [-1, 1] or nothing (it does not apply);
the final score is the arithmetic mean of the values that applied. Scorers
never filter; feasibility and fit have already run.
"""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.structs import Allocation

from .fit import Usage

BINPACK = "binpack"
JOB_ANTI_AFFINITY = "job-anti-affinity"
RESCHEDULE_PENALTY = "node-reschedule-penalty"
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


def job_anti_affinity(
    proposed: Iterable[Allocation], namespace: str, job_id: str, group: str, desired_count: int
) -> float | None:
    """Penalty for stacking one group's allocs on a node: -(collisions+1)/count.

    None when the node holds no alloc of this job's group, so the mean is
    not diluted for nodes without collisions (Nomad appends no score then).
    """
    collisions = sum(
        1
        for a in proposed
        if a.namespace == namespace and a.job_id == job_id and a.task_group == group
    )
    if collisions == 0 or desired_count <= 0:
        return None
    return -(collisions + 1) / desired_count


def final_score(scores: Iterable[float]) -> float:
    values = list(scores)
    return sum(values) / len(values) if values else 0.0
