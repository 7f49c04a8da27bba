"""Garbage collection: what is finished and old goes; what the scheduler needs stays."""

from __future__ import annotations

from controlplane.server.gc import EVAL_GC_S, JOB_GC_S, collect
from controlplane.state import StateStore
from controlplane.structs import Allocation, AllocClientUpdate, Evaluation, Job, TaskGroup

HOUR_NS = 3600 * 1_000_000_000
NOW = 1_900_000_000 * 1_000_000_000


def _store() -> StateStore:
    s = StateStore()
    old = NOW - 5 * HOUR_NS
    s.upsert_job(1, Job(id="stopped", stop=True, task_groups=[TaskGroup(name="g")]), old)
    s.upsert_job(2, Job(id="batch", type="batch", task_groups=[TaskGroup(name="g")]), old)
    s.upsert_allocs(
        3,
        [
            Allocation(
                id="a-stopped",
                job_id="stopped",
                node_id="n",
                task_group="g",
                desired_status="stop",
                modify_time=old,
            ),
            Allocation(id="a-batch", job_id="batch", node_id="n", task_group="g", modify_time=old),
        ],
    )
    s.update_allocs_from_client(
        4,
        [
            AllocClientUpdate(id="a-stopped", client_status="complete", modify_time=old),
            AllocClientUpdate(id="a-batch", client_status="complete", modify_time=old),
        ],
    )
    s.upsert_evals(
        5,
        [
            Evaluation(id="e-old", job_id="batch", status="complete", modify_time=old),
            Evaluation(id="e-new", job_id="batch", status="complete", modify_time=NOW),
            Evaluation(id="e-blocked", job_id="batch", status="blocked", modify_time=old),
        ],
    )
    s.upsert_job(6, Job(id="web", task_groups=[TaskGroup(name="g")]), old)
    s.upsert_evals(
        7,
        [
            Evaluation(id="e-web", job_id="web", status="complete", modify_time=NOW - HOUR_NS * 2),
            Evaluation(id="e-web-new", job_id="web", status="complete", modify_time=NOW),
        ],
    )
    return s


def test_old_finished_things_are_collected() -> None:
    g = collect(_store(), NOW)
    assert g.jobs == [("default", "stopped")]
    assert g.alloc_ids == ["a-stopped"]
    # the live batch job keeps its completed alloc (or it would run again) and
    # its evals (its status is read from them): they go with the job (Nomad)
    assert g.eval_ids == ["e-web"]


def test_thresholds_hold_back_recent_garbage() -> None:
    # half an hour after everything finished: nothing is old enough yet
    created = NOW - 5 * HOUR_NS
    g = collect(_store(), created + HOUR_NS // 2)
    assert (g.jobs, g.alloc_ids, g.eval_ids) == ([], [], [])
    assert EVAL_GC_S >= 1800 and JOB_GC_S >= 1800


def test_force_ignores_ages_but_never_blocked_evals() -> None:
    s = _store()
    g = collect(s, NOW, force=True)
    assert "e-web-new" in g.eval_ids and "e-blocked" not in g.eval_ids
    s.delete_garbage(10, g.eval_ids, g.alloc_ids, g.jobs)
    assert s.job_by_id("default", "stopped") is None
    assert s.alloc_by_id("a-stopped") is None and s.alloc_by_id("a-batch") is not None
    # the batch job waits on its blocked eval: it and its history stay
    assert {e.id for e in s.evals_by_job("default", "batch")} == {"e-old", "e-new", "e-blocked"}
