"""Service catalog in the state store, driven through real FSM applies: upserts,
health updates, deletes, the cleanup when allocations end or nodes go down,
the Service events, and snapshots (Raft dump/restore and operator archives)."""

from __future__ import annotations

import json
import pickle

from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM, ApplyResult
from controlplane.server import snapshot
from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    CheckStatus,
    Job,
    Node,
    ServiceRegistration,
    Struct,
    Task,
    TaskGroup,
    registration_id,
)


def _job(job_id: str = "web") -> Job:
    return Job(
        id=job_id,
        task_groups=[TaskGroup(name="g", count=2, tasks=[Task(name="t", driver="raw_exec")])],
    )


def _reg(alloc_id: str, name: str = "web", **changes: object) -> ServiceRegistration:
    reg = ServiceRegistration(
        id=registration_id(alloc_id, "t", "g", name, "http"),
        service_name=name,
        node_id="n1",
        job_id="web",
        alloc_id=alloc_id,
        address="127.0.0.1",
        port=8080,
        tags=["urlprefix-/"],
    )
    return reg.replace(**changes)


class Cluster:
    """An FSM over a fresh store with entries applied at increasing indexes."""

    def __init__(self) -> None:
        self.store = StateStore()
        self.fsm = FSM(self.store)
        self.index = 0

    def apply(self, mt: m.MsgType, msg: Struct) -> ApplyResult:
        self.index += 1
        result = self.fsm.apply(self.index, int(mt), m.encode(msg))
        assert not result.error, result.error
        return result

    def events(self) -> list[tuple[str, str, str]]:
        """(topic, type, key) of the Service events of the newest entry."""
        batches = self.fsm.events.since(self.index)
        return [
            (e.topic, e.type, e.key)
            for b in batches
            if b.index == self.index
            for e in b.events
            if e.topic == "Service"
        ]


def _cluster_with_allocs(*alloc_ids: str, node: str = "n1") -> Cluster:
    c = Cluster()
    c.apply(m.MsgType.NODE_REGISTER, m.NodeRegister(node=Node(id=node, status="ready")))
    c.apply(m.MsgType.JOB_REGISTER, m.JobRegister(job=_job()))
    allocs = [
        Allocation(id=a, job_id="web", node_id=node, task_group="g", name=f"web.g[{i}]")
        for i, a in enumerate(alloc_ids)
    ]
    c.apply(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=allocs))
    updates = [AllocClientUpdate(id=a, client_status="running") for a in alloc_ids]
    c.apply(m.MsgType.ALLOC_CLIENT_UPDATE, m.AllocClientUpdateMsg(updates=updates))
    return c


def _ids(regs: list[ServiceRegistration]) -> list[str]:
    return [r.alloc_id for r in regs]


def test_upsert_indexes_by_name_alloc_and_job_and_lists_tags() -> None:
    c = _cluster_with_allocs("a1", "a2")
    c.apply(
        m.MsgType.SERVICE_UPSERT,
        m.ServiceUpsert(services=[_reg("a1"), _reg("a2", tags=["b", "a", "b"])]),
    )
    s = c.store
    assert _ids(s.services_by_name("default", "web")) == ["a1", "a2"]
    assert _ids(s.services_by_alloc("a2")) == ["a2"]
    assert _ids(s.services_by_job("default", "web")) == ["a1", "a2"]
    assert s.services_by_name("other", "web") == []
    assert s.table_index("services") == c.index
    reg = s.services_by_alloc("a1")[0]
    assert (reg.create_index, reg.modify_index) == (c.index, c.index)
    # tags of all instances, deduplicated and sorted
    assert s.service_names() == [
        {
            "Namespace": "default",
            "Services": [{"ServiceName": "web", "Tags": ["a", "b", "urlprefix-/"]}],
        }
    ]
    assert c.events() == [
        ("Service", "ServiceRegistration", _reg("a1").id),
        ("Service", "ServiceRegistration", _reg("a2").id),
    ]
    [batch] = c.fsm.events.since(c.index)
    wire = json.loads(batch.events[0].to_json())
    assert (wire["Namespace"], wire["FilterKeys"]) == ("default", ["web", "web"])
    assert wire["Payload"]["Service"]["AllocID"] == "a1"


def test_health_update_bumps_modify_index_but_an_unchanged_report_does_not() -> None:
    c = _cluster_with_allocs("a1")
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[_reg("a1")]))
    created = c.index
    passing = _reg("a1", health="passing", checks=[CheckStatus(name="alive", status="passing")])
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[passing]))
    got = c.store.service_by_id(passing.id)
    assert got is not None
    assert (got.health, got.checks[0].status) == ("passing", "passing")
    assert (got.create_index, got.modify_index) == (created, c.index)
    updated = c.index
    result = c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[passing]))
    assert result.data == {"Changed": 0}
    assert c.store.table_index("services") == updated  # blocking readers stay asleep
    assert c.events() == []


def test_delete_by_id_and_by_alloc() -> None:
    c = _cluster_with_allocs("a1", "a2", "a3")
    regs = [_reg("a1"), _reg("a2"), _reg("a3"), _reg("a3", name="admin")]
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=regs))
    c.apply(m.MsgType.SERVICE_DELETE, m.ServiceDelete(ids=[regs[0].id, "no-such-id"]))
    assert _ids(c.store.services_by_name("default", "web")) == ["a2", "a3"]
    assert c.events() == [("Service", "ServiceDeregistration", regs[0].id)]
    result = c.apply(m.MsgType.SERVICE_DELETE, m.ServiceDelete(alloc_ids=["a3"]))
    assert result.data == {"Deleted": 2}
    assert _ids(c.store.services_by_name("default", "web")) == ["a2"]
    assert c.store.services_by_name("default", "admin") == []
    assert c.store.service_names() == [
        {"Namespace": "default", "Services": [{"ServiceName": "web", "Tags": ["urlprefix-/"]}]}
    ]
    assert c.store.table_index("services") == c.index


def test_registration_of_a_missing_or_ended_alloc_is_dropped_at_apply() -> None:
    c = _cluster_with_allocs("a1")
    c.apply(
        m.MsgType.ALLOC_CLIENT_UPDATE,
        m.AllocClientUpdateMsg(updates=[AllocClientUpdate(id="a1", client_status="complete")]),
    )
    result = c.apply(
        m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[_reg("a1"), _reg("ghost")])
    )
    assert result.data == {"Changed": 0}
    assert c.store.services_by_name("default", "web") == []


def test_client_terminal_alloc_loses_its_registrations_in_the_same_entry() -> None:
    c = _cluster_with_allocs("a1", "a2")
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[_reg("a1"), _reg("a2")]))
    c.apply(
        m.MsgType.ALLOC_CLIENT_UPDATE,
        m.AllocClientUpdateMsg(updates=[AllocClientUpdate(id="a1", client_status="failed")]),
    )
    assert _ids(c.store.services_by_name("default", "web")) == ["a2"]
    assert c.events() == [("Service", "ServiceDeregistration", _reg("a1").id)]


def test_desired_stop_keeps_registrations_until_the_client_reports_terminal() -> None:
    c = _cluster_with_allocs("a1")
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[_reg("a1")]))
    alloc = c.store.alloc_by_id("a1")
    assert alloc is not None
    c.apply(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=[alloc.replace(desired_status="stop")]))
    # still running (shutdown delay, kill timeout): the client deregisters first
    assert _ids(c.store.services_by_alloc("a1")) == ["a1"]
    c.apply(
        m.MsgType.ALLOC_CLIENT_UPDATE,
        m.AllocClientUpdateMsg(updates=[AllocClientUpdate(id="a1", client_status="complete")]),
    )
    assert c.store.services_by_alloc("a1") == []


def test_plan_marking_allocs_lost_removes_their_registrations() -> None:
    c = _cluster_with_allocs("a1")
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[_reg("a1")]))
    alloc = c.store.alloc_by_id("a1")
    assert alloc is not None
    lost = alloc.replace(desired_status="stop", client_status="lost")
    c.apply(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=[lost]))
    assert c.store.services_by_alloc("a1") == []


def test_node_down_removes_the_registrations_of_its_allocs_only() -> None:
    c = _cluster_with_allocs("a1")
    c.apply(m.MsgType.NODE_REGISTER, m.NodeRegister(node=Node(id="n2", status="ready")))
    other = Allocation(id="b1", job_id="web", node_id="n2", task_group="g", name="web.g[1]")
    c.apply(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=[other]))
    c.apply(
        m.MsgType.SERVICE_UPSERT,
        m.ServiceUpsert(services=[_reg("a1"), _reg("b1").replace(node_id="n2")]),
    )
    c.apply(m.MsgType.NODE_STATUS, m.NodeStatus(node_id="n1", status="down"))
    assert _ids(c.store.services_by_name("default", "web")) == ["b1"]
    assert c.events() == [("Service", "ServiceDeregistration", _reg("a1").id)]
    # a node that merely turns ready again changes nothing in the catalog
    c.apply(m.MsgType.NODE_STATUS, m.NodeStatus(node_id="n2", status="ready"))
    assert _ids(c.store.services_by_name("default", "web")) == ["b1"]


def test_gc_and_job_purge_remove_registrations() -> None:
    c = _cluster_with_allocs("a1", "a2")
    c.apply(m.MsgType.SERVICE_UPSERT, m.ServiceUpsert(services=[_reg("a1"), _reg("a2")]))
    c.apply(m.MsgType.GC, m.GarbageCollect(alloc_ids=["a1"]))
    assert _ids(c.store.services_by_name("default", "web")) == ["a2"]
    c.apply(m.MsgType.JOB_DEREGISTER, m.JobDeregister(namespace="default", job_id="web"))
    assert _ids(c.store.services_by_name("default", "web")) == ["a2"]  # a stop, not a purge
    c.apply(
        m.MsgType.JOB_DEREGISTER, m.JobDeregister(namespace="default", job_id="web", purge=True)
    )
    assert c.store.services_by_name("default", "web") == []
    assert c.store.services_by_job("default", "web") == []


def test_snapshots_raft_dump_and_operator_archive_round_trip() -> None:
    c = _cluster_with_allocs("a1", "a2")
    c.apply(
        m.MsgType.SERVICE_UPSERT,
        m.ServiceUpsert(services=[_reg("a1", health="critical"), _reg("a2")]),
    )
    snap = c.store.snapshot()
    c.apply(m.MsgType.SERVICE_DELETE, m.ServiceDelete(alloc_ids=["a2"]))
    assert _ids(snap.services_by_name("default", "web")) == ["a1", "a2"]  # isolated

    # the Raft snapshot (pickled Tables)
    restored = StateStore()
    restored.restore(pickle.loads(pickle.dumps(c.store.dump())))
    assert _ids(restored.services_by_name("default", "web")) == ["a1"]
    assert _ids(restored.services_by_alloc("a1")) == ["a1"]
    assert restored.table_index("services") == c.index

    # the operator archive, restored through its replicated entry
    archive = snapshot.save(c.store)
    other = Cluster()
    other.index = 100
    other.apply(m.MsgType.RESTORE, m.RestoreState(archive=archive))
    got = other.store.services_by_job("default", "web")
    assert [(r.alloc_id, r.health) for r in got] == [("a1", "critical")]
    assert other.store.table_index("services") == 101


def test_a_pickle_from_before_the_catalog_restores_with_an_empty_table() -> None:
    c = _cluster_with_allocs("a1")
    tables = c.store.dump()
    del tables.__dict__["services"]
    restored = StateStore()
    restored.restore(tables)
    assert restored.services_by_alloc("a1") == []
    assert restored.service_names() == []
