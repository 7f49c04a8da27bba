"""Event stream data: events from real FSM applies, filters, and the ring buffer."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM
from controlplane.state import StateStore
from controlplane.state.events import Event, EventBuffer, EventFilter, encode_batch
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Deployment,
    DeploymentState,
    DesiredTransition,
    Evaluation,
    Job,
    Node,
    Struct,
    Task,
    TaskGroup,
)


def _job(job_id: str = "web", count: int = 1, namespace: str = "default") -> Job:
    return Job(
        id=job_id,
        namespace=namespace,
        task_groups=[TaskGroup(name="g", count=count, tasks=[Task(name="t", driver="raw_exec")])],
    )


def _eval(eval_id: str, job_id: str = "web", deployment_id: str = "") -> Evaluation:
    return Evaluation(
        id=eval_id, job_id=job_id, status="pending", type="service", deployment_id=deployment_id
    )


class _Log:
    """Applies messages to a real FSM with consecutive indexes, as Raft would."""

    def __init__(self) -> None:
        self.store = StateStore()
        self.fsm = FSM(self.store)
        self.index = 0

    def apply(self, mt: m.MsgType, msg: Struct) -> int:
        self.index += 1
        result = self.fsm.apply(self.index, int(mt), m.encode(msg))
        assert not result.error or result.error_status == 409, result.error
        return self.index

    def events(self, index: int) -> list[Event]:
        batches = [b for b in self.fsm.events.since(index) if b.index == index]
        return list(batches[0].events) if batches else []


def _wire(ev: Event) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ev.to_json())
    return data


def _registered(log: _Log) -> None:
    log.apply(m.MsgType.NODE_REGISTER, m.NodeRegister(node=Node(id="n1", secret_id="s3cret")))
    log.apply(m.MsgType.JOB_REGISTER, m.JobRegister(job=_job(), eval=_eval("e1")))


def test_job_register_emits_job_and_eval_events_typed_by_the_message() -> None:
    log = _Log()
    log.apply(m.MsgType.NODE_REGISTER, m.NodeRegister(node=Node(id="n1", secret_id="s3cret")))
    index = log.apply(m.MsgType.JOB_REGISTER, m.JobRegister(job=_job(), eval=_eval("e1")))

    job_ev, eval_ev = log.events(index)
    assert (job_ev.topic, job_ev.type, job_ev.key, job_ev.index) == (
        "Job",
        "JobRegistered",
        "web",
        index,
    )
    wire = _wire(eval_ev)
    assert wire["Topic"] == "Evaluation" and wire["Type"] == "JobRegistered"
    assert wire["Key"] == "e1" and wire["FilterKeys"] == ["web", ""]
    assert wire["Namespace"] == "default" and wire["Index"] == index
    assert wire["Payload"]["Evaluation"]["ModifyIndex"] == index
    assert _wire(job_ev)["Payload"]["Job"]["ID"] == "web"
    assert _wire(job_ev)["FilterKeys"] is None

    node_ev = log.events(1)[0]
    wire = _wire(node_ev)
    assert (wire["Topic"], wire["Type"], wire["Namespace"]) == ("Node", "NodeRegistration", "")
    assert wire["Payload"]["Node"]["SecretID"] == "", "the node secret never leaves the store"


def test_unchanged_job_registration_emits_only_its_eval() -> None:
    log = _Log()
    _registered(log)
    index = log.apply(m.MsgType.JOB_REGISTER, m.JobRegister(job=_job(), eval=_eval("e2")))
    assert [(e.topic, e.key) for e in log.events(index)] == [("Evaluation", "e2")]


def test_rejected_entry_emits_nothing() -> None:
    log = _Log()
    _registered(log)
    index = log.apply(
        m.MsgType.JOB_REGISTER,
        m.JobRegister(job=_job(count=3), enforce_index=True, job_modify_index=99),
    )
    assert log.events(index) == []
    assert log.fsm.events.latest < index


def test_plan_allocs_carry_filter_keys_and_no_embedded_job() -> None:
    log = _Log()
    _registered(log)
    job = log.store.job_by_id("default", "web")
    dep = Deployment(id="d1", job_id="web", status="running", task_groups={"g": DeploymentState()})
    alloc = Allocation(
        id="a1", job_id="web", job=job, node_id="n1", name="web.g[0]", task_group="g"
    )
    index = log.apply(
        m.MsgType.PLAN_APPLY,
        m.PlanApply(allocs=[alloc.replace(deployment_id="d1")], deployment=dep),
    )
    events = {e.topic: e for e in log.events(index)}
    assert set(events) == {"Allocation", "Deployment"}
    wire = _wire(events["Allocation"])
    assert wire["Type"] == "PlanResult" and wire["Key"] == "a1"
    assert wire["FilterKeys"] == ["web", "d1"]
    assert wire["Payload"]["Allocation"]["Job"] is None
    assert log.store.alloc_by_id("a1").job is not None, "the stored alloc keeps its job"
    assert _wire(events["Deployment"])["FilterKeys"] == ["web"]

    update = AllocClientUpdate(id="a1", client_status="running")
    index = log.apply(m.MsgType.ALLOC_CLIENT_UPDATE, m.AllocClientUpdateMsg(updates=[update]))
    (ev,) = [e for e in log.events(index) if e.topic == "Allocation"]
    assert ev.type == "AllocationUpdated"
    assert _wire(ev)["Payload"]["Allocation"]["ClientStatus"] == "running"

    index = log.apply(
        m.MsgType.ALLOC_DESIRED_TRANSITION,
        m.AllocDesiredTransition(
            transitions={"a1": DesiredTransition(migrate=True)}, evals=[_eval("e3")]
        ),
    )
    types = {(e.topic, e.type) for e in log.events(index)}
    assert types == {
        ("Allocation", "AllocationUpdateDesiredStatus"),
        ("Evaluation", "AllocationUpdateDesiredStatus"),
    }
    stored = log.store.alloc_by_id("a1")
    assert stored is not None and stored.desired_transition.migrate is True


def test_deployment_promotion_and_node_drain_types() -> None:
    log = _Log()
    _registered(log)
    dep = Deployment(id="d1", job_id="web", status="running", task_groups={"g": DeploymentState()})
    log.apply(m.MsgType.PLAN_APPLY, m.PlanApply(deployment=dep))
    index = log.apply(
        m.MsgType.DEPLOYMENT_UPDATE, m.DeploymentUpdate(deployment_id="d1", promote=True)
    )
    assert [(e.topic, e.type) for e in log.events(index)] == [("Deployment", "DeploymentPromotion")]
    index = log.apply(
        m.MsgType.NODE_DRAIN, m.NodeDrain(node_id="n1", drain_strategy={"Deadline": 0})
    )
    assert [(e.topic, e.type, e.key) for e in log.events(index)] == [("Node", "NodeDrain", "n1")]


def test_job_deregister_and_purge() -> None:
    log = _Log()
    _registered(log)
    index = log.apply(
        m.MsgType.JOB_DEREGISTER,
        m.JobDeregister(namespace="default", job_id="web", eval=_eval("e9")),
    )
    by_topic = {e.topic: e for e in log.events(index)}
    assert by_topic["Job"].type == "JobDeregistered"
    assert _wire(by_topic["Job"])["Payload"]["Job"]["Stop"] is True
    index = log.apply(
        m.MsgType.JOB_DEREGISTER,
        m.JobDeregister(namespace="default", job_id="web", purge=True, eval=_eval("e10")),
    )
    # as Nomad: a purge deletes the job row, so only its eval is an event
    assert [(e.topic, e.key) for e in log.events(index)] == [("Evaluation", "e10")]


def test_filter_by_topic_key_filter_key_and_namespace() -> None:
    job_ev = Event("Job", "JobRegistered", "web", "default", None, 5, _job())
    alloc_ev = Event(
        "Allocation", "PlanResult", "a1", "default", ("web", "d1"), 6, Allocation(id="a1")
    )
    other_ns = Event("Job", "JobRegistered", "web", "prod", None, 7, _job(namespace="prod"))
    node_ev = Event("Node", "NodeDrain", "n1", "", None, 8, Node(id="n1"))
    events = [job_ev, alloc_ev, other_ns, node_ev]

    assert EventFilter.all().select(events) == [job_ev, alloc_ev, node_ev]
    assert EventFilter.all("*").select(events) == events
    assert EventFilter({"Job": frozenset({"*"})}).select(events) == [job_ev]
    # a filter key matches the key or any FilterKey
    assert EventFilter({"Allocation": frozenset({"web"})}).select(events) == [alloc_ev]
    assert EventFilter({"Allocation": frozenset({"d1"})}).select(events) == [alloc_ev]
    assert EventFilter({"Allocation": frozenset({"nope"})}).select(events) == []
    assert EventFilter({"*": frozenset({"web"})}, "prod").select(events) == [other_ns]


def test_ring_buffer_keeps_the_newest_and_resumes_inclusively() -> None:
    buf = EventBuffer(size=3)
    for i in range(1, 6):
        buf.publish(
            i * 10, [Event("Job", "JobRegistered", f"j{i}", "default", None, i * 10, _job())]
        )
    buf.publish(60, [])  # entries without events are not kept
    assert (len(buf), buf.oldest, buf.latest) == (3, 30, 50)
    assert [b.index for b in buf.since(40)] == [40, 50]
    assert [b.index for b in buf.since(41)] == [50]
    # older than the buffer: start at the oldest still held
    assert [b.index for b in buf.since(1)] == [30, 40, 50]
    assert buf.since(51) == []


def test_encode_batch_is_one_ndjson_line() -> None:
    ev = Event("Job", "JobRegistered", "web", "default", None, 7, _job())
    line = encode_batch(7, [ev])
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    data = json.loads(line)
    assert data["Index"] == 7 and data["Events"][0]["Key"] == "web"


async def test_waiter_wakes_on_publish_from_another_thread() -> None:
    buf = EventBuffer()
    buf.publish(3, [Event("Job", "JobRegistered", "web", "default", None, 3, _job())])
    assert buf.waiter(2).done(), "a newer batch already exists"
    fut = buf.waiter(3)
    assert not fut.done()
    ev = Event("Job", "JobRegistered", "web", "default", None, 4, _job())
    threading.Thread(target=buf.publish, args=(4, [ev])).start()
    await asyncio.wait_for(fut, 5)
    buf.discard(fut)


def test_plan_entry_carries_the_job_once_for_allocs_sent_without_it() -> None:
    log = _Log()
    _registered(log)
    job = log.store.job_by_id("default", "web")
    assert job is not None
    old = job.replace(version=job.version + 7)  # an older copy a stop still carries
    placed = [
        Allocation(id=f"p{i}", job_id="web", node_id="n1", name=f"web.g[{i}]", task_group="g")
        for i in range(3)
    ]
    stopped = Allocation(
        id="s1", job_id="web", job=old, node_id="n1", name="web.g[9]", task_group="g",
        desired_status="stop",
    )
    log.apply(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=[*placed, stopped], job=job))
    for a in placed:
        stored = log.store.alloc_by_id(a.id)
        assert stored is not None and stored.job == job
    stored_stop = log.store.alloc_by_id("s1")
    assert stored_stop is not None and stored_stop.job == old  # its own job is kept


def test_batch_entry_publishes_one_event_batch_for_all_its_sub_entries() -> None:
    # a subscriber resumes after the last index it read: two batches of the
    # same index would let it miss the second one (bench/cluster.py lost ~1 %
    # of its "running" events that way)
    log = _Log()
    log.index += 1
    regs = [m.JobRegister(job=_job(j), eval=_eval(f"e{j}", j)) for j in ("a", "b")]
    batch = m.Batch(entries=[m.BatchEntry(int(m.MsgType.JOB_REGISTER), m.encode(r)) for r in regs])
    result = log.fsm.apply(log.index, int(m.MsgType.BATCH), m.encode(batch))
    assert result.batch is not None and not any(r.error for r in result.batch)

    batches = log.fsm.events.since(log.index)
    assert [b.index for b in batches] == [log.index]
    assert [(e.topic, e.key) for e in batches[0].events] == [
        ("Job", "a"), ("Evaluation", "ea"), ("Job", "b"), ("Evaluation", "eb")
    ]
