"""Allocation names (`<jobID>.<group>[<i>]`) and index bookkeeping.

Count changes keep names dense and stable: growth reuses the lowest free
indexes, shrinking removes the highest ones first.
"""

from __future__ import annotations

from collections.abc import Iterable


def alloc_name(job_id: str, group: str, index: int) -> str:
    return f"{job_id}.{group}[{index}]"


def name_index(name: str) -> int:
    """The `i` of `job.group[i]`; -1 when the name has no index."""
    start = name.rfind("[")
    if start < 0 or not name.endswith("]"):
        return -1
    try:
        return int(name[start + 1 : -1])
    except ValueError:
        return -1


def lowest_free(used: Iterable[int], n: int) -> list[int]:
    """The `n` smallest non-negative indexes not in `used`."""
    taken = set(used)
    out: list[int] = []
    i = 0
    while len(out) < n:
        if i not in taken:
            out.append(i)
        i += 1
    return out
