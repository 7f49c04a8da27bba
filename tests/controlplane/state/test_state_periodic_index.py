"""The store's periodic-parent index: exactly the active periodic parents after
every kind of job write, in snapshots, and after a restore; and the
dispatcher's tick launching for exactly those (it no longer scans all jobs).
"""

from __future__ import annotations

import pickle
from typing import Any

from controlplane.raft.results import ApplyResult
from controlplane.server.periodic import PeriodicDispatcher
from controlplane.state import StateStore
from controlplane.structs import Job, ParameterizedJobConfig, PeriodicConfig, Task, TaskGroup
from controlplane.structs.periodic import is_periodic_active

SEC = 1_000_000_000
# 2027-01-15T08:00:00Z, a whole minute
T0 = 1_800_000_000 - 1_800_000_000 % 60
_GROUPS = [TaskGroup(name="g", tasks=[Task(name="t", driver="mock")])]


def _job(job_id: str, namespace: str = "default", **kw: Any) -> Job:
    return Job(id=job_id, namespace=namespace, type="batch", task_groups=_GROUPS, **kw)


def _cron(enabled: bool = True) -> PeriodicConfig:
    return PeriodicConfig(spec="* * * * *", enabled=enabled)


def _parents(s: Any) -> list[str]:
    got = [f"{j.namespace}/{j.id}" for j in s.periodic_parents()]
    # the index agrees with the scan it replaces, order included
    assert got == [f"{j.namespace}/{j.id}" for j in s.jobs("*") if is_periodic_active(j)]
    return got


def _store() -> StateStore:
    s = StateStore()
    at = T0 * SEC
    s.upsert_job(1, _job("plain"), at)
    s.upsert_job(2, _job("report", periodic=_cron()), at)
    s.upsert_job(3, _job("backup", namespace="ops", periodic=_cron()), at)
    s.upsert_job(4, _job("off", periodic=_cron(enabled=False)), at)
    s.upsert_job(5, _job("stopped", periodic=_cron(), stop=True), at)
    # a parameterized parent with a periodic block is dispatched, not launched
    s.upsert_job(6, _job("param", periodic=_cron(), parameterized_job=ParameterizedJobConfig()), at)
    s.upsert_job(7, _job("report/periodic-100", parent_id="report"), at)
    return s


def test_only_active_periodic_parents_are_indexed() -> None:
    s = _store()
    assert _parents(s) == ["default/report", "ops/backup"]


def test_job_writes_move_jobs_in_and_out_of_the_index() -> None:
    s = _store()
    at = T0 * SEC
    # stop (as a deregister without purge writes it), then start again
    report = s.job_by_id("default", "report")
    assert report is not None
    s.upsert_job(10, report.replace(stop=True), at)
    assert _parents(s) == ["ops/backup"]
    s.upsert_job(11, report.replace(stop=False), at)
    assert _parents(s) == ["default/report", "ops/backup"]
    # enabling, and a plain job turning periodic; a periodic one losing its block
    s.upsert_job(12, _job("off", periodic=_cron()), at)
    s.upsert_job(13, _job("plain", periodic=_cron()), at)
    s.upsert_job(14, _job("backup", namespace="ops"), at)
    assert _parents(s) == ["default/off", "default/plain", "default/report"]
    # a stability mark replaces the job object: the index follows it
    s.set_job_stable(15, "default", "plain", 1, True)
    plain = s.periodic_parents()[1]
    assert plain.id == "plain" and plain.stable
    # purge and garbage collection
    s.delete_job(16, "default", "off")
    s.delete_garbage(17, [], [], [("default", "plain")])
    assert _parents(s) == ["default/report"]


def test_snapshots_keep_the_index_of_their_moment() -> None:
    s = _store()
    snap = s.snapshot()
    s.delete_job(10, "default", "report")
    s.upsert_job(11, _job("later", periodic=_cron()), T0 * SEC)
    assert _parents(snap) == ["default/report", "ops/backup"]
    assert _parents(s) == ["default/later", "ops/backup"]
    # a plan dry-run's job lands in its snapshot's index only
    dry = s.snapshot().with_job(_job("planned", periodic=_cron()))
    assert _parents(dry) == ["default/later", "default/planned", "ops/backup"]
    assert _parents(s) == ["default/later", "ops/backup"]


def test_a_restore_rebuilds_the_index() -> None:
    s = _store()
    # a follower installing the leader's snapshot: Raft pickles the dump
    follower = StateStore()
    follower.upsert_job(1, _job("stale", periodic=_cron()), T0 * SEC)
    follower.restore(pickle.loads(pickle.dumps(s.dump())))
    assert _parents(follower) == ["default/report", "ops/backup"]
    # and the restored store keeps it up to date
    follower.delete_job(20, "ops", "backup")
    assert _parents(follower) == ["default/report"]


class _Raft:
    """Records the launches the dispatcher submits; commits nothing."""

    def __init__(self) -> None:
        self.launched: list[str] = []

    def submit(self, msg_type: int, msg: Any) -> ApplyResult:
        self.launched.append(f"{msg.namespace}/{msg.job_id}")
        return ApplyResult(index=1)


def test_tick_launches_for_exactly_the_active_parents_before_and_after_restore() -> None:
    s = _store()
    raft = _Raft()
    d = PeriodicDispatcher(raft, s, clock=lambda: T0 + 61)  # type: ignore[arg-type]
    d.tick()
    assert raft.launched == ["default/report", "ops/backup"]

    restored = StateStore()
    restored.restore(pickle.loads(pickle.dumps(s.dump())))
    restored.delete_job(30, "default", "report")
    raft.launched.clear()
    PeriodicDispatcher(raft, restored, clock=lambda: T0 + 61).tick()  # type: ignore[arg-type]
    assert raft.launched == ["ops/backup"]
