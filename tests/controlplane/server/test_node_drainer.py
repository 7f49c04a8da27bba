"""Node drainer: marks allocs for migration within each group's
migrate.max_parallel (the next only once replacements are healthy), leaves
batch allocs to finish, system jobs last, completes on empty or deadline.
Driven tick by tick over a real FSM with an injected clock; the scheduler's
part (stop the marked alloc, place its replacement) is played by hand."""

from __future__ import annotations

from typing import Any

from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM, ApplyResult
from controlplane.server.deployment_watcher import rfc3339
from controlplane.server.drainer import NodeDrainer
from controlplane.state import StateStore
from controlplane.structs import (
    SEC,
    Allocation,
    AllocClientUpdate,
    AllocDeploymentStatus,
    Job,
    MigrateStrategy,
    Node,
    Struct,
    Task,
    TaskGroup,
    TaskState,
    UpdateStrategy,
)

T0 = 1000.0


class _Raft:
    """Applies submissions to a real FSM at once (a one-node log)."""

    def __init__(self, store: StateStore) -> None:
        self.fsm = FSM(store)
        self.index = 0
        self.submitted: list[m.MsgType] = []

    def submit(self, mt: m.MsgType, msg: Struct, timeout: float = 5.0) -> ApplyResult:
        self.index += 1
        self.submitted.append(mt)
        return self.fsm.apply(self.index, int(mt), m.encode(msg))


class _Cluster:
    def __init__(self, strategy: dict[str, Any]) -> None:
        self.store = StateStore()
        self.raft = _Raft(self.store)
        for node_id in ("n1", "n2"):
            node = Node(id=node_id, status="ready")
            self.raft.submit(m.MsgType.NODE_REGISTER, m.NodeRegister(node=node))
        self.strategy = strategy
        self.clock = [T0]
        self.drainer = NodeDrainer(self.raft, self.store, clock=lambda: self.clock[0])  # type: ignore[arg-type]

    def job(self, job_id: str, type_: str = "service", count: int = 1, **group: Any) -> Job:
        tg = TaskGroup(name="g", count=count, tasks=[Task(name="t", driver="raw_exec")], **group)
        self.raft.submit(
            m.MsgType.JOB_REGISTER, m.JobRegister(job=Job(id=job_id, type=type_, task_groups=[tg]))
        )
        stored = self.store.job_by_id("default", job_id)
        assert stored is not None
        return stored

    def place(self, job: Job, index: int, node_id: str = "n1", **fields: Any) -> str:
        alloc_id = f"{job.id}-{index}-{node_id}"
        fields.setdefault("client_status", "running")
        fields.setdefault("task_states", {"t": TaskState(state="running", started_at=rfc3339(T0))})
        alloc = Allocation(
            id=alloc_id,
            job_id=job.id,
            job=job,
            node_id=node_id,
            task_group="g",
            name=f"{job.id}.g[{index}]",
            **fields,
        )
        self.raft.submit(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=[alloc]))
        return alloc_id

    def drain(self) -> None:
        self.raft.submit(
            m.MsgType.NODE_DRAIN, m.NodeDrain(node_id="n1", drain_strategy=self.strategy)
        )

    def migrating(self) -> set[str]:
        return {a.id for a in self.store.allocs_by_node("n1") if a.desired_transition.migrate}

    def finish(self, alloc_id: str) -> None:
        update = AllocClientUpdate(id=alloc_id, client_status="complete")
        self.raft.submit(m.MsgType.ALLOC_CLIENT_UPDATE, m.AllocClientUpdateMsg(updates=[update]))

    def migrate(self, alloc_id: str, **replacement: Any) -> str:
        """The scheduler's answer to a mark: stop the alloc, place it on n2."""
        old = self.store.alloc_by_id(alloc_id)
        assert old is not None and old.job is not None
        stop = old.replace(desired_status="stop", desired_description="alloc is being migrated")
        self.raft.submit(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=[stop]))
        replacement.setdefault("client_status", "pending")
        replacement.setdefault("task_states", None)
        return self.place(old.job, old.index, "n2", **replacement)

    def run(self, alloc_id: str, at: float) -> None:
        state = {"t": TaskState(state="running", started_at=rfc3339(at))}
        update = AllocClientUpdate(id=alloc_id, client_status="running", task_states=state)
        self.raft.submit(m.MsgType.ALLOC_CLIENT_UPDATE, m.AllocClientUpdateMsg(updates=[update]))

    def node(self) -> Node:
        node = self.store.node_by_id("n1")
        assert node is not None
        return node


def _migrate(max_parallel: int, min_healthy_s: int = 5) -> MigrateStrategy:
    return MigrateStrategy(max_parallel=max_parallel, min_healthy_time=min_healthy_s * SEC)


def test_max_parallel_one_marks_the_next_alloc_only_once_its_replacement_is_healthy() -> None:
    cl = _Cluster({"Deadline": 0})
    job = cl.job("web", count=2, migrate=_migrate(1))
    first, second = cl.place(job, 0), cl.place(job, 1)
    cl.drain()
    cl.clock[0] = T0 + 60
    cl.drainer.tick()
    assert cl.migrating() == {first}
    evals = cl.store.evals("*")
    assert [(e.job_id, e.triggered_by, e.node_id) for e in evals] == [("web", "node-drain", "n1")]
    cl.drainer.tick()
    assert cl.migrating() == {first}, "still marked, not yet replaced: nothing more"

    replacement = cl.migrate(first)
    cl.drainer.tick()
    assert cl.migrating() == {first}, "replacement pending"
    cl.run(replacement, at=T0 + 61)
    cl.clock[0] = T0 + 65.9
    cl.drainer.tick()
    assert cl.migrating() == {first}, "running for less than min_healthy_time"
    cl.clock[0] = T0 + 66
    cl.drainer.tick()
    assert cl.migrating() == {first, second}
    assert len(cl.store.evals("*")) == 2

    cl.run(cl.migrate(second), at=T0 + 67)
    cl.drainer.tick()
    node = cl.node()
    assert (node.drain, node.drain_strategy, node.scheduling_eligibility) == (
        False,
        None,
        "ineligible",
    )
    assert node.last_drain is not None and node.last_drain["Status"] == "complete"
    assert [e.message for e in node.events or []][-1] == "Node drain complete"


def test_max_parallel_two_marks_both_at_once() -> None:
    cl = _Cluster({"Deadline": 0})
    job = cl.job("web", count=2, migrate=_migrate(2))
    allocs = {cl.place(job, 0), cl.place(job, 1)}
    cl.drain()
    cl.clock[0] = T0 + 60
    cl.drainer.tick()
    assert cl.migrating() == allocs


def test_healthy_siblings_on_other_nodes_count_toward_the_threshold() -> None:
    cl = _Cluster({"Deadline": 0})
    job = cl.job("web", count=3, migrate=_migrate(1))
    on_n1 = cl.place(job, 0)
    cl.place(job, 1, "n2")
    cl.place(job, 2, "n2", client_status="pending", task_states=None)
    cl.drain()
    cl.clock[0] = T0 + 60
    cl.drainer.tick()
    assert cl.migrating() == set(), "only 2 of 3 healthy: moving one would leave 1"
    cl.run("web-2-n2", at=T0)
    cl.drainer.tick()
    assert cl.migrating() == {on_n1}


def test_deployment_allocs_wait_for_the_clients_health_verdict() -> None:
    cl = _Cluster({"Deadline": 0})
    update = UpdateStrategy(max_parallel=1, health_check="task_states")
    job = cl.job("web", count=2, migrate=_migrate(1, 0), update=update)
    healthy = AllocDeploymentStatus(healthy=True)
    first = cl.place(job, 0, deployment_id="d1", deployment_status=healthy)
    cl.place(job, 1, deployment_id="d1", deployment_status=healthy)
    cl.drain()
    cl.drainer.tick()
    assert cl.migrating() == {first}
    replacement = cl.migrate(first, deployment_id="d1")
    cl.run(replacement, at=T0)
    cl.clock[0] = T0 + 60
    cl.drainer.tick()
    assert cl.migrating() == {first}, "running, but the deployment has no verdict yet"
    cl.raft.submit(
        m.MsgType.ALLOC_HEALTH, m.AllocHealth(healthy=[replacement], timestamp=rfc3339(T0))
    )
    cl.drainer.tick()
    assert len(cl.migrating()) == 2


def test_service_first_then_system_then_complete() -> None:
    cl = _Cluster({"Deadline": 0, "IgnoreSystemJobs": False})
    web = cl.place(cl.job("web", migrate=_migrate(1, 0)), 0)
    agent = cl.place(cl.job("agent", "system"), 0)
    cl.drain()
    cl.drainer.tick()
    assert cl.migrating() == {web}
    cl.finish(web)
    cl.drainer.tick()
    assert cl.migrating() == {web, agent}
    assert [e.job_id for e in cl.store.evals("*")] == ["web", "agent"]
    assert cl.node().drain, "system allocs still run"
    cl.finish(agent)
    cl.drainer.tick()
    assert not cl.node().drain


def test_ignore_system_jobs_leaves_them_running() -> None:
    cl = _Cluster({"Deadline": 0, "IgnoreSystemJobs": True})
    web = cl.place(cl.job("web", migrate=_migrate(1, 0)), 0)
    cl.place(cl.job("agent", "system"), 0)
    cl.drain()
    cl.drainer.tick()
    cl.finish(web)
    cl.drainer.tick()
    assert cl.migrating() == {web}
    node = cl.node()
    assert not node.drain and node.last_drain is not None
    assert node.last_drain["Status"] == "complete"


def test_batch_allocs_are_left_to_finish() -> None:
    cl = _Cluster({"Deadline": 0})
    batch = cl.place(cl.job("report", "batch"), 0)
    agent = cl.place(cl.job("agent", "system"), 0)
    cl.drain()
    cl.drainer.tick()
    assert cl.migrating() == set(), "batch work finishes; system waits for it"
    cl.finish(batch)
    cl.drainer.tick()
    assert cl.migrating() == {agent}


def test_deadline_marks_everything_left_and_completes_with_evals() -> None:
    strategy = {"Deadline": 5 * SEC, "ForceDeadline": rfc3339(T0 + 5)}
    cl = _Cluster(strategy)
    web = cl.job("web", count=2, migrate=_migrate(1, 0))
    blocked = cl.place(web, 0)  # marked, but its replacement found no room
    waiting = cl.place(web, 1)
    batch = cl.place(cl.job("report", "batch"), 0)
    agent = cl.place(cl.job("agent", "system"), 0)
    cl.drain()
    cl.drainer.tick()
    assert cl.migrating() == {blocked}
    cl.clock[0] = T0 + 4.9
    cl.drainer.tick()
    assert cl.node().drain
    before = len(cl.store.evals("*"))

    cl.clock[0] = T0 + 5
    cl.drainer.tick()
    assert cl.migrating() == {blocked, waiting, batch, agent}
    node = cl.node()
    assert not node.drain and node.last_drain is not None
    assert node.last_drain["Status"] == "complete"
    forced = cl.store.evals("*")[before:]
    assert sorted(e.job_id for e in forced) == ["agent", "report", "web"]
    # the evals come with the completion, so the scheduler sees the drain over
    assert cl.raft.submitted[-2:] == [m.MsgType.ALLOC_DESIRED_TRANSITION, m.MsgType.NODE_DRAIN]


def test_cancel_keeps_marks_and_mark_eligible_restores() -> None:
    cl = _Cluster({"Deadline": 0})
    cl.place(cl.job("web", migrate=_migrate(1, 0)), 0)
    cl.drain()
    cl.drainer.tick()
    cl.raft.submit(m.MsgType.NODE_DRAIN, m.NodeDrain(node_id="n1", mark_eligible=True))
    node = cl.node()
    assert (node.drain, node.scheduling_eligibility) == (False, "eligible")
    assert node.last_drain is not None and node.last_drain["Status"] == "canceled"
    before = cl.raft.index
    cl.drainer.tick()
    assert cl.raft.index == before, "nothing to do once the drain is off"
