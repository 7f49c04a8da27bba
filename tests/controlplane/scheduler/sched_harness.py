"""In-memory StateView and builders for scheduler tests.

`FakeState` implements the StateView protocol over plain dicts and can apply
a SchedulerResult's plan the way the plan applier would (stops replace the
stored alloc, placements upsert), so tests can drive several evaluations in
a row: run, scale, fail a node, run again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from controlplane.scheduler import schedule
from controlplane.state.view import StateView
from controlplane.structs import (
    Allocation,
    Constraint,
    Deployment,
    DriverInfo,
    EphemeralDisk,
    Evaluation,
    Job,
    NetworkResource,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeReservedResources,
    NodeResources,
    Port,
    ReschedulePolicy,
    Resources,
    SchedulerResult,
    Task,
    TaskGroup,
)
from controlplane.structs.node import NodeReservedNetwork

NOW = 1_700_000_000_000_000_000


class FakeState:
    def __init__(self) -> None:
        self._index = 1
        self.jobs: dict[tuple[str, str], Job] = {}
        self._nodes: dict[str, Node] = {}
        self.allocs: dict[str, Allocation] = {}
        self.evals: dict[str, Evaluation] = {}

    # --- StateView -----------------------------------------------------
    @property
    def index(self) -> int:
        return self._index

    def job_by_id(self, namespace: str, job_id: str) -> Job | None:
        return self.jobs.get((namespace, job_id))

    def job_version(self, namespace: str, job_id: str, version: int) -> Job | None:
        job = self.jobs.get((namespace, job_id))
        return job if job is not None and job.version == version else None

    def nodes(self) -> Iterable[Node]:
        # Insertion order on purpose: the scheduler must not depend on it.
        return list(self._nodes.values())

    def node_by_id(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]:
        return [a for a in self.allocs.values() if a.namespace == namespace and a.job_id == job_id]

    def allocs_by_node(self, node_id: str) -> list[Allocation]:
        return [a for a in self.allocs.values() if a.node_id == node_id]

    def alloc_by_id(self, alloc_id: str) -> Allocation | None:
        return self.allocs.get(alloc_id)

    def eval_by_id(self, eval_id: str) -> Evaluation | None:
        return self.evals.get(eval_id)

    def latest_deployment(self, namespace: str, job_id: str) -> Deployment | None:
        return None

    def deployment_by_id(self, dep_id: str) -> Deployment | None:
        return None

    # --- writes (what the FSM would do) ----------------------------------
    def _bump(self) -> int:
        self._index += 1
        return self._index

    def upsert_job(self, job: Job) -> Job:
        """Store a new version of `job` (Version+1, fresh JobModifyIndex)."""
        index = self._bump()
        old = self.jobs.get((job.namespace, job.id))
        job = job.replace(
            version=old.version + 1 if old is not None else 0,
            create_index=old.create_index if old is not None else index,
            modify_index=index,
            job_modify_index=index,
        )
        self.jobs[(job.namespace, job.id)] = job
        return job

    def upsert_node(self, node: Node) -> Node:
        node = node.replace(modify_index=self._bump())
        self._nodes[node.id] = node
        return node

    def update_node(self, node_id: str, **changes: Any) -> Node:
        return self.upsert_node(self._nodes[node_id].replace(**changes))

    def upsert_alloc(self, alloc: Allocation) -> Allocation:
        alloc = alloc.replace(modify_index=self._bump())
        self.allocs[alloc.id] = alloc
        return alloc

    def update_alloc(self, alloc_id: str, **changes: Any) -> Allocation:
        return self.upsert_alloc(self.allocs[alloc_id].replace(**changes))

    def apply(self, result: SchedulerResult) -> None:
        index = self._bump()
        for allocs in result.plan.node_update.values():
            for alloc in allocs:
                self.allocs[alloc.id] = alloc.replace(modify_index=index)
        for allocs in result.plan.node_allocation.values():
            for alloc in allocs:
                create = self.allocs[alloc.id].create_index if alloc.id in self.allocs else index
                self.allocs[alloc.id] = alloc.replace(create_index=create, modify_index=index)

    def live_allocs(self, job_id: str) -> list[Allocation]:
        return sorted(
            (a for a in self.allocs.values() if a.job_id == job_id and not a.terminal()),
            key=lambda a: a.name,
        )


class Ids:
    """Deterministic id factory: alloc-1, alloc-2, ..."""

    def __init__(self, prefix: str = "alloc") -> None:
        self._counter = itertools.count(1)
        self.prefix = prefix

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self._counter)}"


def node(
    node_id: str,
    *,
    dc: str = "dc1",
    cpu: int = 4000,
    mem: int = 8192,
    disk: int = 100_000,
    drivers: Sequence[str] = ("docker", "exec"),
    status: str = "ready",
    eligibility: str = "eligible",
    attrs: dict[str, str] | None = None,
    meta: dict[str, str] | None = None,
    node_class: str = "",
    pool: str = "default",
    reserved_ports: str = "",
    reserved_cpu: int = 0,
    reserved_mem: int = 0,
    min_port: int = 20000,
    max_port: int = 32000,
    drain: bool = False,
) -> Node:
    return Node(
        id=node_id,
        name=f"{node_id}-name",
        datacenter=dc,
        attributes={
            "kernel.name": "linux",
            "unique.network.ip-address": "10.0.0.1",
            **(attrs or {}),
        },
        meta=meta,
        node_class=node_class,
        node_pool=pool,
        status=status,
        scheduling_eligibility=eligibility,
        drain=drain,
        drivers={d: DriverInfo(detected=True, healthy=True) for d in drivers},
        node_resources=NodeResources(
            cpu=NodeCpuResources(cpu_shares=cpu),
            memory=NodeMemoryResources(memory_mb=mem),
            disk=NodeDiskResources(disk_mb=disk),
            min_dynamic_port=min_port,
            max_dynamic_port=max_port,
        ),
        reserved_resources=NodeReservedResources(
            cpu=NodeCpuResources(cpu_shares=reserved_cpu),
            memory=NodeMemoryResources(memory_mb=reserved_mem),
            networks=NodeReservedNetwork(reserved_host_ports=reserved_ports),
        ),
    )


def task(
    name: str = "app",
    *,
    driver: str = "docker",
    cpu: int = 500,
    mem: int = 256,
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    networks: list[NetworkResource] | None = None,
    constraints: list[Constraint] | None = None,
    kill_timeout: int = 5_000_000_000,
) -> Task:
    return Task(
        name=name,
        driver=driver,
        config=config if config is not None else {"image": "busybox:1"},
        env=env,
        kill_timeout=kill_timeout,
        constraints=constraints,
        resources=Resources(cpu=cpu, memory_mb=mem, networks=networks),
    )


def group(
    name: str = "web",
    *,
    count: int = 1,
    tasks: list[Task] | None = None,
    disk: int = 300,
    constraints: list[Constraint] | None = None,
    networks: list[NetworkResource] | None = None,
    reschedule: ReschedulePolicy | None = None,
) -> TaskGroup:
    return TaskGroup(
        name=name,
        count=count,
        tasks=tasks if tasks is not None else [task()],
        ephemeral_disk=EphemeralDisk(size_mb=disk),
        constraints=constraints,
        networks=networks,
        reschedule_policy=reschedule,
    )


def job(
    job_id: str = "example",
    *,
    type: str = "service",
    groups: list[TaskGroup] | None = None,
    datacenters: list[str] | None = None,
    constraints: list[Constraint] | None = None,
    count: int = 1,
    priority: int = 50,
) -> Job:
    return Job(
        id=job_id,
        name=job_id,
        type=type,
        priority=priority,
        datacenters=datacenters,
        constraints=constraints,
        task_groups=groups if groups is not None else [group(count=count)],
    )


def ports(*, static: dict[str, int] | None = None, dynamic: Sequence[str] = ()) -> NetworkResource:
    return NetworkResource(
        mode="host",
        reserved_ports=[Port(label=k, value=v) for k, v in (static or {}).items()] or None,
        dynamic_ports=[Port(label=label) for label in dynamic] or None,
    )


def evaluation(
    j: Job, eval_id: str = "eval-1", *, triggered_by: str = "job-register"
) -> Evaluation:
    return Evaluation(
        id=eval_id,
        namespace=j.namespace,
        priority=j.priority,
        type=j.type,
        triggered_by=triggered_by,
        job_id=j.id,
        job_modify_index=j.job_modify_index,
    )


class Cluster:
    """A FakeState plus the knobs a test turns: seed, clock, id factory."""

    def __init__(self, *nodes: Node, seed: int = 7) -> None:
        self.state = FakeState()
        self.seed = seed
        self.ids = Ids()
        self.evals = Ids("eval")
        for n in nodes:
            self.state.upsert_node(n)

    def register(self, j: Job) -> Job:
        return self.state.upsert_job(j)

    def run(
        self,
        job_id: str,
        *,
        apply: bool = True,
        seed: int | None = None,
        type: str = "service",
    ) -> SchedulerResult:
        stored = self.state.job_by_id("default", job_id)
        ev = (
            evaluation(stored, self.evals())
            if stored is not None
            else Evaluation(id=self.evals(), job_id=job_id, type=type)
        )
        view: StateView = self.state
        result = schedule(
            view, ev, now_ns=NOW, seed=self.seed if seed is None else seed, new_id=self.ids
        )
        if apply:
            self.state.apply(result)
        return result


def placed(result: SchedulerResult) -> list[Allocation]:
    return sorted(
        (a for allocs in result.plan.node_allocation.values() for a in allocs),
        key=lambda a: a.name,
    )


def stopped(result: SchedulerResult) -> list[Allocation]:
    return sorted(
        (a for allocs in result.plan.node_update.values() for a in allocs),
        key=lambda a: a.name,
    )
