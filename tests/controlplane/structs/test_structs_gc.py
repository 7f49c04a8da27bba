"""State objects stay out of the cyclic garbage collector's way.

A server holds millions of structs; tracked, each full collection walked
them all (pauses past a second at 100,000 allocations, long enough to lose
Raft leadership). Frozen trees cannot form cycles, so they are untracked.
"""

from __future__ import annotations

import gc

from controlplane.state.events import Event
from controlplane.structs import Allocation, Job, Task, TaskGroup


def test_structs_with_containers_are_not_tracked() -> None:
    job = Job(
        id="web",
        meta={"a": "b"},
        task_groups=[TaskGroup(name="g", tasks=[Task(name="t", config={"args": ["x"]})])],
    )
    alloc = Allocation(id="a1", job=job, node_id="n1")
    assert not gc.is_tracked(job)
    assert not gc.is_tracked(job.task_groups[0])
    assert not gc.is_tracked(alloc)


def test_events_in_the_buffer_are_not_tracked() -> None:
    ev = Event("Allocation", "AllocationUpdated", "a1", "default", None, 7, Allocation(id="a1"))
    assert not gc.is_tracked(ev)
    assert b'"Index":7' in ev.to_json()
