"""Smaller client pieces: status derivation, update batching, handle store."""

from __future__ import annotations

import threading
from pathlib import Path

from controlplane.client.alloc_runner import client_status
from controlplane.client.alloc_updates import AllocUpdater
from controlplane.client.allocdir import AllocDir
from controlplane.client.state_db import StateDB
from controlplane.drivers.base import TaskHandle
from controlplane.structs import Allocation, AllocClientUpdate, AllocDeploymentStatus, TaskState

RUNNING = TaskState(state="running")
PENDING = TaskState(state="pending")
DONE = TaskState(state="dead")
FAILED = TaskState(state="dead", failed=True)


def test_client_status_from_task_states() -> None:
    assert client_status([PENDING, PENDING]) == ("pending", "No tasks have started")
    assert client_status([RUNNING, PENDING]) == ("running", "Tasks are running")
    assert client_status([RUNNING, DONE]) == ("running", "Tasks are running")
    assert client_status([DONE, DONE]) == ("complete", "All tasks have completed")
    assert client_status([FAILED, RUNNING]) == ("failed", "Failed tasks")
    assert client_status([]) == ("pending", "No tasks have started")


class RecordingRPC:
    def __init__(self, failures: int = 0) -> None:
        self.calls: list[list[AllocClientUpdate]] = []
        self.failures = failures
        self.cond = threading.Condition()

    def update_allocs(self, updates: list[AllocClientUpdate]) -> None:
        with self.cond:
            if self.failures:
                self.failures -= 1
                self.cond.notify_all()
                raise ConnectionError("down")
            self.calls.append(updates)
            self.cond.notify_all()


def test_updater_coalesces_per_alloc() -> None:
    rpc = RecordingRPC()
    updater = AllocUpdater(rpc, interval_s=0.3)  # type: ignore[arg-type]
    updater.start()
    try:
        for status in ("pending", "running", "complete"):
            updater.put(AllocClientUpdate(id="a", client_status=status))
        updater.put(AllocClientUpdate(id="b", client_status="running"))
        with rpc.cond:
            assert rpc.cond.wait_for(lambda: rpc.calls, timeout=5)
        (call,) = rpc.calls
        assert {u.id: u.client_status for u in call} == {"a": "complete", "b": "running"}
    finally:
        updater.stop()


def test_updater_retries_failed_sends() -> None:
    rpc = RecordingRPC(failures=2)
    updater = AllocUpdater(rpc, interval_s=0.01, retry_max_s=0.05)  # type: ignore[arg-type]
    updater.start()
    try:
        updater.put(AllocClientUpdate(id="a", client_status="running"))
        with rpc.cond:
            assert rpc.cond.wait_for(lambda: rpc.calls, timeout=5)
        assert rpc.calls[0][0].client_status == "running"
        assert updater.pending() == {}
    finally:
        updater.stop()


def test_updater_flushes_on_stop() -> None:
    rpc = RecordingRPC()
    updater = AllocUpdater(rpc, interval_s=60)  # type: ignore[arg-type]
    updater.start()
    updater.put(AllocClientUpdate(id="a", client_status="complete"))
    updater.stop()
    assert [u.client_status for call in rpc.calls for u in call] == ["complete"]


HEALTHY = AllocDeploymentStatus(healthy=True, timestamp="2024-05-01T12:00:00.000000000Z")


def test_updater_keeps_an_unsent_health_verdict_when_coalescing() -> None:
    rpc = RecordingRPC()
    updater = AllocUpdater(rpc)  # type: ignore[arg-type]
    updater.put(AllocClientUpdate(id="a", client_status="running", deployment_status=HEALTHY))
    updater.put(AllocClientUpdate(id="a", client_status="complete"))
    assert updater.flush()
    ((sent,),) = rpc.calls
    assert (sent.client_status, sent.deployment_status) == ("complete", HEALTHY)

    # a newer verdict replaces an older one
    unhealthy = HEALTHY.replace(healthy=False)
    updater.put(AllocClientUpdate(id="a", client_status="running", deployment_status=HEALTHY))
    updater.put(AllocClientUpdate(id="a", client_status="running", deployment_status=unhealthy))
    assert updater.flush()
    assert rpc.calls[1][0].deployment_status == unhealthy


def test_updater_keeps_a_health_verdict_across_a_failed_send() -> None:
    rpc = RecordingRPC(failures=1)
    updater = AllocUpdater(rpc)  # type: ignore[arg-type]
    updater.put(AllocClientUpdate(id="a", client_status="running", deployment_status=HEALTHY))
    assert not updater.flush()
    updater.put(AllocClientUpdate(id="a", client_status="complete"))
    assert updater.flush()
    ((sent,),) = rpc.calls
    assert (sent.client_status, sent.deployment_status) == ("complete", HEALTHY)


def test_updater_keeps_a_health_verdict_when_a_newer_update_races_a_failed_send() -> None:
    class RacingRPC(RecordingRPC):
        def update_allocs(self, updates: list[AllocClientUpdate]) -> None:
            if not self.calls and self.failures:
                # a task changes while the send is in flight, then it fails
                updater.put(AllocClientUpdate(id="a", client_status="complete"))
            super().update_allocs(updates)

    rpc = RacingRPC(failures=1)
    updater = AllocUpdater(rpc)  # type: ignore[arg-type]
    updater.put(AllocClientUpdate(id="a", client_status="running", deployment_status=HEALTHY))
    assert not updater.flush()
    assert updater.flush()
    ((sent,),) = rpc.calls
    assert (sent.client_status, sent.deployment_status) == ("complete", HEALTHY)


def test_state_db_round_trip(tmp_path: Path) -> None:
    directory = tmp_path / "client" / "allocs"
    db = StateDB(directory)
    h = TaskHandle(driver="raw_exec", alloc_id="a1", task_name="web", state={"pid": 42})
    running = TaskState(state="running", started_at="2024-01-01T00:00:00Z")
    db.put_alloc(Allocation(id="a1", job_id="j"))
    db.put_handle("a1", "web", h)
    db.put_task_states("a1", {"web": running})
    db.put_alloc(Allocation(id="a2", job_id="j"))
    db.put_handle("a2", "db", h.replace(alloc_id="a2", task_name="db"))

    reopened = StateDB(directory)
    local = reopened.allocs()["a1"]
    assert local.alloc is not None and local.alloc.job_id == "j"
    assert local.handles == {"web": h}
    assert local.task_states == {"web": running}
    reopened.put_handle("a1", "web", None)
    reopened.delete_alloc("a2")
    # a late write for a deleted allocation does not bring it back
    reopened.put_handle("a2", "db", h)
    again = StateDB(directory)
    assert again.handles() == {}
    assert set(again.allocs()) == {"a1"}


def test_state_db_ignores_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "a1.json").write_text("{not json")
    db = StateDB(tmp_path)
    assert db.handles() == {} and db.allocs() == {}


def test_alloc_dir_layout(tmp_path: Path) -> None:
    ad = AllocDir(tmp_path, "abc")
    ad.build(["web"])
    assert ad.log_path("web", "stdout") == tmp_path / "abc/alloc/logs/web.stdout.0"
    assert ad.log_rel_path("web", "stderr") == "alloc/logs/web.stderr.0"
    assert (tmp_path / "abc/web/secrets").stat().st_mode & 0o777 == 0o700
    ad.destroy()
    assert not (tmp_path / "abc").exists()
