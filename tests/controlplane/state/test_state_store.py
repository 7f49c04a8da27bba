"""StateStore: versions, indexes, client/scheduler field ownership, summaries, snapshots."""

from __future__ import annotations

import threading

from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Evaluation,
    Job,
    Node,
    Task,
    TaskGroup,
)


def _job(count: int = 1, image: str = "a") -> Job:
    return Job(
        id="web",
        task_groups=[
            TaskGroup(
                name="g",
                count=count,
                tasks=[Task(name="t", driver="docker", config={"image": image})],
            )
        ],
    )


def test_identical_register_keeps_version_changed_spec_bumps_it() -> None:
    s = StateStore()
    first = s.upsert_job(5, _job(), submit_time=1)
    assert (first.version, first.create_index, first.job_modify_index) == (0, 5, 5)
    same = s.upsert_job(6, _job(), submit_time=2)
    assert same.version == 0 and same.modify_index == 5 and same.submit_time == 1
    changed = s.upsert_job(7, _job(count=3), submit_time=3)
    assert (changed.version, changed.create_index, changed.job_modify_index) == (1, 5, 7)
    assert [j.version for j in s.job_versions("default", "web")] == [1, 0]
    assert s.table_index("jobs") == 7


def test_job_versions_are_capped_at_six() -> None:
    s = StateStore()
    for i in range(10):
        s.upsert_job(i + 1, _job(count=i + 1), submit_time=i)
    versions = s.job_versions("default", "web")
    assert [j.version for j in versions] == [9, 8, 7, 6, 5, 4]


def test_scheduler_upsert_keeps_client_fields() -> None:
    s = StateStore()
    a = Allocation(id="a1", job_id="web", node_id="n1", name="web.g[0]", task_group="g")
    s.upsert_allocs(3, [a])
    s.update_allocs_from_client(4, [AllocClientUpdate(id="a1", client_status="running")])
    s.upsert_allocs(5, [a.replace(desired_status="stop")])
    got = s.alloc_by_id("a1")
    assert got is not None
    assert (got.client_status, got.desired_status) == ("running", "stop")
    assert (got.create_index, got.modify_index) == (3, 5)
    assert [x.id for x in s.allocs_by_node("n1")] == ["a1"]
    assert [x.id for x in s.allocs_by_job("default", "web")] == ["a1"]


def test_job_status_and_summary_follow_allocs_and_evals() -> None:
    s = StateStore()
    s.upsert_job(1, _job(count=2), submit_time=1)
    job = s.job_by_id("default", "web")
    assert job is not None
    assert s.job_status(job) == "pending"
    s.upsert_evals(2, [Evaluation(id="e1", job_id="web", status="pending")])
    assert s.job_status(job) == "pending"
    s.upsert_allocs(
        3,
        [
            Allocation(id="a1", job_id="web", node_id="n", task_group="g", name="web.g[0]"),
            Allocation(id="a2", job_id="web", node_id="n", task_group="g", name="web.g[1]"),
        ],
    )
    s.update_allocs_from_client(4, [AllocClientUpdate(id="a1", client_status="running")])
    s.upsert_evals(
        5, [Evaluation(id="e1", job_id="web", status="complete", queued_allocations={"g": 0})]
    )
    assert s.job_status(job) == "running"
    summary = s.job_summary("default", "web")
    assert summary is not None
    g = summary.summary["g"]
    assert (g.running, g.starting, g.queued) == (1, 1, 0)
    s.update_allocs_from_client(
        6,
        [
            AllocClientUpdate(id="a1", client_status="complete"),
            AllocClientUpdate(id="a2", client_status="failed"),
        ],
    )
    assert s.job_status(job) == "dead"


def test_snapshot_is_isolated_from_later_writes() -> None:
    s = StateStore()
    s.upsert_node(1, Node(id="n1", status="ready"), now="t")
    snap = s.snapshot()
    s.upsert_node(2, Node(id="n2", status="ready"), now="t")
    assert [n.id for n in snap.nodes()] == ["n1"]
    assert snap.index == 1 and s.index == 2


def test_node_reregistration_keeps_operator_fields() -> None:
    s = StateStore()
    s.upsert_node(1, Node(id="n1", status="ready"), now="t")
    with s.lock:
        n = s.node_by_id("n1")
        assert n is not None
        s._t.nodes["n1"] = n.replace(scheduling_eligibility="ineligible")
    again = s.upsert_node(2, Node(id="n1", status="ready", name="renamed"), now="t")
    assert again.scheduling_eligibility == "ineligible"
    assert again.name == "renamed" and again.create_index == 1
    assert [e.message for e in again.events or []] == ["Node registered"]


def test_notifier_wakes_thread_waiters() -> None:
    s = StateStore()
    woke = threading.Event()

    def waiter() -> None:
        if s.notifier.wait(5.0):
            woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    # wait until the waiter is parked, then write
    while not s.notifier._threads:
        threading.Event().wait(0.001)
    s.notifier.notify()
    t.join(5)
    assert woke.is_set()


def test_scheduler_marks_lost_allocs_lost() -> None:
    s = StateStore()
    a = Allocation(id="a1", job_id="web", node_id="n1", name="web.g[0]", task_group="g")
    s.upsert_allocs(1, [a])
    s.update_allocs_from_client(2, [AllocClientUpdate(id="a1", client_status="running")])
    s.upsert_allocs(3, [a.replace(desired_status="stop", client_status="lost")])
    got = s.alloc_by_id("a1")
    assert got is not None and (got.client_status, got.desired_status) == ("lost", "stop")


def test_snapshots_share_until_a_write_and_never_see_later_writes() -> None:
    s = StateStore()
    s.upsert_job(1, _job(), submit_time=1)
    s.upsert_node(2, Node(id="n1", name="n1", status="ready"), "")
    s.upsert_allocs(3, [Allocation(id="a1", job_id="web", node_id="n1", task_group="g")])
    first = s.snapshot()
    second = s.snapshot()  # two snapshots of one state share one copy
    # writes after the snapshots: every table and index they read
    s.upsert_allocs(4, [Allocation(id="a2", job_id="web", node_id="n1", task_group="g")])
    s.upsert_evals(5, [Evaluation(id="e1", job_id="web")])
    s.upsert_job(6, _job(count=2), submit_time=2)
    s.delete_job(7, "default", "web")
    for snap in (first, second):
        assert [a.id for a in snap.allocs_by_node("n1")] == ["a1"]
        assert [a.id for a in snap.allocs_by_job("default", "web")] == ["a1"]
        assert snap.eval_by_id("e1") is None
        job = snap.job_by_id("default", "web")
        assert job is not None and job.task_groups[0].count == 1
    assert {a.id for a in s.allocs_by_node("n1")} == {"a1", "a2"}
    assert s.eval_by_id("e1") is not None and s.job_by_id("default", "web") is None
    # a dry-run's job stays in its snapshot
    third = s.snapshot().with_job(_job(count=9))
    assert third.job_by_id("default", "web") is not None
    assert s.job_by_id("default", "web") is None
