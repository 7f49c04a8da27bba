"""List-stub projections of full objects, as Nomad's list endpoints return them.

Building a stub is a Python-level copy of ~25 fields; for `GET /v1/allocations`
over 100,000 allocations that dominated the request. Allocations are frozen
and replaced on every change, so `AllocStubCache` keeps the last stub built
for each one and reuses it while the stored object is the same one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable

from controlplane.state import StateStore
from controlplane.state.reads import Reads
from controlplane.structs import (
    Allocation,
    AllocListStub,
    Job,
    JobListStub,
    Node,
    NodeListStub,
)


def job_stub(store: Reads, job: Job) -> JobListStub:
    return JobListStub(
        id=job.id,
        parent_id=job.parent_id,
        name=job.name,
        namespace=job.namespace,
        datacenters=job.datacenters,
        node_pool=job.node_pool,
        type=job.type,
        priority=job.priority,
        periodic=job.periodic is not None,
        parameterized_job=job.parameterized_job is not None and not job.dispatched,
        stop=job.stop,
        status=store.job_status(job),
        status_description=job.status_description,
        job_summary=store.job_summary(job.namespace, job.id),
        create_index=job.create_index,
        modify_index=job.modify_index,
        job_modify_index=job.job_modify_index,
        submit_time=job.submit_time,
    )


def alloc_stub(a: Allocation, resources: bool = False, task_states: bool = True) -> AllocListStub:
    return AllocListStub(
        id=a.id,
        eval_id=a.eval_id,
        name=a.name,
        namespace=a.namespace,
        node_id=a.node_id,
        node_name=a.node_name,
        job_id=a.job_id,
        job_type=a.job.type if a.job else "",
        job_version=a.job.version if a.job else 0,
        task_group=a.task_group,
        allocated_resources=a.allocated_resources if resources else None,
        desired_status=a.desired_status,
        desired_description=a.desired_description,
        client_status=a.client_status,
        client_description=a.client_description,
        desired_transition=a.desired_transition,
        task_states=a.task_states if task_states else None,
        deployment_status=a.deployment_status,
        reschedule_tracker=a.reschedule_tracker,
        followup_eval_id=a.followup_eval_id,
        next_allocation=a.next_allocation,
        create_index=a.create_index,
        modify_index=a.modify_index,
        create_time=a.create_time,
        modify_time=a.modify_time,
    )


class AllocStubCache:
    """Default-shaped alloc stubs (no resources, with task states) by alloc ID.

    Entries hold the allocation they were built from and are reused only for
    that very object (identity), so a stale entry can never be served; entries
    of deleted allocations are dropped when the cache outgrows the table.
    Used from the HTTP event loop only (not thread-safe).
    """

    def __init__(self) -> None:
        self._stubs: dict[str, tuple[Allocation, AllocListStub]] = {}

    def stubs(
        self, allocs: Iterable[Allocation], resources: bool = False, task_states: bool = True
    ) -> list[AllocListStub]:
        if resources or not task_states:
            return [alloc_stub(a, resources, task_states) for a in allocs]
        cache = self._stubs
        out = []
        for a in allocs:
            hit = cache.get(a.id)
            if hit is None or hit[0] is not a:
                hit = cache[a.id] = (a, alloc_stub(a))
            out.append(hit[1])
        return out

    def prune(self, live: int, alive: Callable[[str], bool], slack: int = 1024) -> None:
        """Forget deleted allocs once the cache outgrows twice the table (`live` allocs)."""
        if len(self._stubs) > 2 * live + slack:
            self._stubs = {k: v for k, v in self._stubs.items() if alive(k)}


class JobStubCache:
    """Job list stubs by (namespace, job ID), the summary included.

    A stub is reused while the stored job is the very same object and the
    store counts no write to the job's allocations, evaluations or
    deployments since it was built (`job_touch`): the summary is the costly
    part of `GET /v1/jobs` (a pass over every allocation of every job), and
    most jobs do not change between two wake-ups. Parents of periodic and
    dispatched jobs summarise their children, which the count does not
    cover: they are always built afresh. Event-loop only (not thread-safe).
    """

    def __init__(self) -> None:
        self._stubs: dict[tuple[str, str], tuple[Job, int, JobListStub]] = {}

    def stub(self, store: Reads, job: Job) -> JobListStub:
        if job.periodic is not None or (job.parameterized_job is not None and not job.dispatched):
            return job_stub(store, job)
        key = (job.namespace, job.id)
        touch = store.job_touch(job.namespace, job.id)
        hit = self._stubs.get(key)
        if hit is None or hit[0] is not job or hit[1] != touch:
            hit = self._stubs[key] = (job, touch, job_stub(store, job))
        return hit[2]

    def prune(self, live: int, alive: Callable[[tuple[str, str]], bool]) -> None:
        """Forget purged jobs once the cache outgrows twice the table."""
        if len(self._stubs) > 2 * live + 256:
            self._stubs = {k: v for k, v in self._stubs.items() if alive(k)}


_caches: weakref.WeakKeyDictionary[StateStore, AllocStubCache] = weakref.WeakKeyDictionary()
_job_caches: weakref.WeakKeyDictionary[StateStore, JobStubCache] = weakref.WeakKeyDictionary()


def alloc_stub_cache(store: StateStore) -> AllocStubCache:
    """The stub cache of one store (agents in one process keep theirs apart)."""
    cache = _caches.get(store)
    if cache is None:
        cache = _caches[store] = AllocStubCache()
    return cache


def job_stub_cache(store: StateStore) -> JobStubCache:
    cache = _job_caches.get(store)
    if cache is None:
        cache = _job_caches[store] = JobStubCache()
    return cache


def node_stub(n: Node, os_attrs: bool = False) -> NodeListStub:
    address = n.attributes.get("unique.network.ip-address", "")
    return NodeListStub(
        address=address,
        id=n.id,
        attributes={"os.name": n.attributes.get("os.name", "")} if os_attrs else None,
        datacenter=n.datacenter,
        name=n.name,
        node_class=n.node_class,
        node_pool=n.node_pool,
        version=n.attributes.get("nomad.version", ""),
        drain=n.drain,
        scheduling_eligibility=n.scheduling_eligibility,
        status=n.status,
        status_description=n.status_description,
        drivers=n.drivers,
        create_index=n.create_index,
        modify_index=n.modify_index,
    )
