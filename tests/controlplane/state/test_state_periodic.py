"""Periodic launch records and parent/child reads: monotonic launches, children
summaries, and both snapshot kinds (Raft pickle, operator archive)."""

from __future__ import annotations

import pickle

from controlplane.server import snapshot
from controlplane.state import StateStore
from controlplane.structs import Job, ParameterizedJobConfig, PeriodicConfig, TaskGroup
from controlplane.structs.periodic import PeriodicLaunch

SEC = 1_000_000_000


def _store() -> StateStore:
    s = StateStore()
    s.upsert_job(1, Job(id="p", type="batch", periodic=PeriodicConfig(spec="@daily")), 1)
    s.upsert_job(2, Job(id="p/periodic-100", type="batch", parent_id="p"), 1)
    s.upsert_job(3, Job(id="p-other", type="batch"), 1)
    s.upsert_periodic_launch(4, PeriodicLaunch(id="p", launch=100 * SEC))
    return s


def test_launch_record_only_moves_forward() -> None:
    s = _store()
    s.upsert_periodic_launch(5, PeriodicLaunch(id="p", launch=50 * SEC))
    record = s.periodic_launch("default", "p")
    assert record is not None and record.launch == 100 * SEC and record.modify_index == 4
    s.upsert_periodic_launch(6, PeriodicLaunch(id="p", launch=200 * SEC))
    record = s.periodic_launch("default", "p")
    assert record is not None and (record.launch, record.create_index) == (200 * SEC, 4)
    assert s.table_index("periodic_launches") == 6


def test_children_are_the_jobs_naming_the_parent() -> None:
    s = _store()
    assert [j.id for j in s.job_children("default", "p")] == ["p/periodic-100"]
    summary = s.job_summary("default", "p")
    assert summary is not None and summary.children.pending == 1
    # a plain job has no children counts
    plain = s.job_summary("default", "p-other")
    assert plain is not None and plain.children.pending == 0


def test_dispatched_children_are_not_parents() -> None:
    s = StateStore()
    cfg = ParameterizedJobConfig()
    s.upsert_job(1, Job(id="d", type="batch", parameterized_job=cfg), 1)
    child = Job(
        id="d/dispatch-1-abcdef01",
        type="batch",
        parent_id="d",
        parameterized_job=cfg,
        dispatched=True,
        dispatch_idempotency_token="tok",
        task_groups=[TaskGroup(name="g")],
    )
    s.upsert_job(2, child, 1)
    stored = s.job_by_id("default", child.id)
    assert stored is not None and s.job_status(stored) == "pending"
    assert s.dispatched_child_by_token("default", "d", "tok") == stored
    assert s.dispatched_child_by_token("default", "d", "") is None


def test_snapshots_keep_launch_records() -> None:
    s = _store()
    snap = s.snapshot()
    s.upsert_periodic_launch(9, PeriodicLaunch(id="p", launch=300 * SEC))
    old = snap.periodic_launch("default", "p")
    assert old is not None and old.launch == 100 * SEC

    restored = StateStore()
    restored.restore(pickle.loads(pickle.dumps(s.dump())))
    record = restored.periodic_launch("default", "p")
    assert record is not None and record.launch == 300 * SEC

    archived = snapshot.to_tables(snapshot.load(snapshot.save(s)), 20)
    assert archived.periodic_launches[("default", "p")].launch == 300 * SEC


def test_a_pickle_from_before_issue_10_restores_without_launches() -> None:
    tables = _store().dump()
    del tables.__dict__["periodic_launches"]
    restored = StateStore()
    restored.restore(tables)
    assert restored.periodic_launch("default", "p") is None
