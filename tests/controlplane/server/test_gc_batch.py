"""Garbage collection of dead batch jobs (periodic and dispatched children
included), of periodic / parameterized parents, and of expired ACL tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controlplane.server.gc import ACL_TOKEN_GC_S, JOB_GC_S, collect
from controlplane.state import StateStore
from controlplane.structs import (
    ACLToken,
    Allocation,
    AllocClientUpdate,
    Deployment,
    Evaluation,
    Job,
    ParameterizedJobConfig,
    PeriodicConfig,
    TaskGroup,
)

HOUR_NS = 3600 * 1_000_000_000
NOW = 1_900_000_000 * 1_000_000_000
OLD = NOW - 5 * HOUR_NS
RECENT = NOW - 2 * HOUR_NS


class _Store:
    """A StateStore written directly, indexes counting up."""

    def __init__(self) -> None:
        self.s = StateStore()
        self.index = 0

    def _next(self) -> int:
        self.index += 1
        return self.index

    def job(self, job_id: str, at: int = OLD, **kw: Any) -> None:
        kw.setdefault("type", "batch")
        job = Job(id=job_id, task_groups=[TaskGroup(name="g")], **kw)
        self.s.upsert_job(self._next(), job, at)

    def ev(self, job_id: str, status: str = "complete", at: int = OLD) -> None:
        ev = Evaluation(id=f"e-{job_id}-{self.index}", job_id=job_id, status=status, modify_time=at)
        self.s.upsert_evals(self._next(), [ev])

    def alloc(self, job_id: str, client_status: str = "complete", at: int = OLD) -> None:
        alloc_id = f"a-{job_id}-{self.index}"
        a = Allocation(id=alloc_id, job_id=job_id, node_id="n", task_group="g", modify_time=at)
        self.s.upsert_allocs(self._next(), [a])
        update = AllocClientUpdate(id=alloc_id, client_status=client_status, modify_time=at)
        self.s.update_allocs_from_client(self._next(), [update])

    def finished(self, job_id: str, at: int = OLD, **kw: Any) -> None:
        """A batch job that ran once and completed at `at`."""
        self.job(job_id, at=min(at, OLD), **kw)
        self.ev(job_id, at=at)
        self.alloc(job_id, at=at)


def test_dead_batch_job_is_collected_with_its_evals_and_allocs() -> None:
    st = _Store()
    st.finished("done")
    g = collect(st.s, NOW)
    assert g.jobs == [("default", "done")]
    assert [e.job_id for e in st.s.evals_by_job("default", "done")] == ["done"]
    assert set(g.eval_ids) == {e.id for e in st.s.evals_by_job("default", "done")}
    assert set(g.alloc_ids) == {a.id for a in st.s.allocs_by_job("default", "done")}
    st.s.delete_garbage(st._next(), g.eval_ids, g.alloc_ids, g.jobs)
    assert st.s.job_by_id("default", "done") is None
    assert st.s.allocs("*") == [] and st.s.evals("*") == []


def test_recently_finished_batch_job_keeps_everything_until_the_job_goes() -> None:
    # finished 2h ago: older than the eval/alloc thresholds, younger than the
    # job's; its history stays with it (or the next eval would run it again)
    st = _Store()
    st.finished("recent", at=RECENT)
    g = collect(st.s, NOW)
    assert (g.jobs, g.eval_ids, g.alloc_ids) == ([], [], [])
    later = RECENT + int(JOB_GC_S * 1e9) + HOUR_NS
    assert collect(st.s, later).jobs == [("default", "recent")]


@pytest.mark.parametrize(
    ("what", "setup"),
    [
        ("a running alloc", lambda st: st.alloc("b", client_status="running")),
        ("a pending eval", lambda st: st.ev("b", status="pending")),
        ("a blocked eval", lambda st: st.ev("b", status="blocked")),
    ],
)
def test_batch_job_with_live_work_stays_even_when_forced(
    what: str, setup: Callable[[_Store], None]
) -> None:
    st = _Store()
    st.finished("b")
    setup(st)
    g = collect(st.s, NOW, force=True)
    assert g.jobs == [], what
    assert not {a.id for a in st.s.allocs_by_job("default", "b")} & set(g.alloc_ids)


def test_batch_job_with_an_active_deployment_stays() -> None:
    st = _Store()
    st.finished("b")
    st.s.upsert_deployment(st._next(), Deployment(id="d", job_id="b", status="running"))
    assert collect(st.s, NOW, force=True).jobs == []


def test_never_evaluated_batch_job_is_pending_not_dead() -> None:
    st = _Store()
    st.job("fresh")
    assert collect(st.s, NOW, force=True).jobs == []


def test_service_job_is_collected_only_once_stopped() -> None:
    st = _Store()
    st.finished("web", type="service")
    assert collect(st.s, NOW, force=True).jobs == []
    st.job("web", type="service", stop=True)
    assert collect(st.s, NOW, force=True).jobs == [("default", "web")]


def test_dead_sysbatch_job_is_collected() -> None:
    st = _Store()
    st.finished("sb", type="sysbatch")
    assert collect(st.s, NOW).jobs == [("default", "sb")]


def test_periodic_parent_stays_while_its_dead_children_go() -> None:
    st = _Store()
    st.job("report", periodic=PeriodicConfig(spec="* * * * *"))
    # a finished eval (a forced launch's, an older version's) does not make it dead
    st.ev("report")
    st.finished("report/periodic-1800000000", parent_id="report")
    st.finished("report/periodic-1800000060", at=RECENT, parent_id="report")
    st.job("report/periodic-1800000120", parent_id="report")
    st.ev("report/periodic-1800000120")
    st.alloc("report/periodic-1800000120", client_status="running")
    assert collect(st.s, NOW).jobs == [("default", "report/periodic-1800000000")]
    forced = collect(st.s, NOW, force=True).jobs
    assert forced == [
        ("default", "report/periodic-1800000000"),
        ("default", "report/periodic-1800000060"),
    ]
    # stopped, the parent goes too (its running child stays)
    st.job("report", periodic=PeriodicConfig(spec="* * * * *"), stop=True)
    assert ("default", "report") in collect(st.s, NOW, force=True).jobs


def test_parameterized_parent_stays_while_its_dead_dispatched_children_go() -> None:
    st = _Store()
    params = ParameterizedJobConfig(payload="optional")
    st.job("render", parameterized_job=params)
    st.ev("render")
    child = "render/dispatch-1800000000-0a1b2c3d"
    st.finished(child, parameterized_job=params, dispatched=True, parent_id="render")
    assert collect(st.s, NOW, force=True).jobs == [("default", child)]
    st.job("render", parameterized_job=params, stop=True)
    assert collect(st.s, NOW).jobs == [("default", "render"), ("default", child)]


def _token(accessor: str, expires_at: int) -> ACLToken:
    return ACLToken(accessor_id=accessor, secret_id=f"s-{accessor}", expires_at=expires_at)


def test_expired_tokens_go_after_the_threshold_or_when_forced() -> None:
    st = _Store()
    st.s.upsert_acl_tokens(
        st._next(),
        [
            _token("long-expired", NOW - 2 * HOUR_NS),
            _token("just-expired", NOW - HOUR_NS // 2),
            _token("not-yet", NOW + HOUR_NS),
            _token("forever", 0),
        ],
    )
    assert ACL_TOKEN_GC_S == 3600
    assert collect(st.s, NOW).acl_token_ids == ["long-expired"]
    assert collect(st.s, NOW, force=True).acl_token_ids == ["just-expired", "long-expired"]
