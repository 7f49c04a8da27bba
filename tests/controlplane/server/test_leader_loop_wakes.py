"""Which commits wake the deployment watcher, the node drainer and the keyring
sync loop: only those to the tables their next pass would act on, and under
a burst at most one pass per MIN_PASS_INTERVAL_S.

Writes go straight to a StateStore followed by notify() (what the FSM does
after each entry). notify() takes a woken thread off the parked set before
it returns, so "still parked, no new pass" right after it is a
deterministic "not woken". The loops' timer passes are set to 60 s so none
happens during a test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.server import keyring
from controlplane.server.deployment_watcher import MIN_PASS_INTERVAL_S, DeploymentWatcher
from controlplane.server.drainer import NodeDrainer
from controlplane.server.keyring import Keyring
from controlplane.state import StateStore
from controlplane.structs import Allocation, Deployment, Job, Node
from tests.waiting import wait_for

QUIET_S = 60.0


class _NoRaft:
    """Takes the drainer's submissions and commits nothing."""

    def submit(self, *args: Any, **kwargs: Any) -> None:
        return None

    def peers(self) -> list[str]:
        return []


class _Passes:
    """Counts a loop's passes (and when they started)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.at: list[float] = []
        self.lock = threading.Lock()

    def record(self) -> None:
        with self.lock:
            self.at.append(time.monotonic())

    def count(self) -> int:
        with self.lock:
            return len(self.at)

    def wait_parked_after(self, n: int) -> None:
        wait_for(
            lambda: self.count() == n and len(self.store.notifier._threads) == 1,
            timeout=10.0,
            what=f"pass {n} done and the loop parked",
        )

    def commit(self, write: Any) -> None:
        with self.store.lock:
            write(self.store)
        self.store.notifier.notify()

    def assert_not_woken(self, n: int) -> None:
        assert len(self.store.notifier._threads) == 1 and self.count() == n


@pytest.fixture
def store() -> Iterator[StateStore]:
    s = StateStore()
    yield s
    s.notifier.close()  # releases a parked loop at once


def _counted_watcher(store: StateStore, passes: _Passes) -> DeploymentWatcher:
    """A deployment watcher whose passes `passes` counts (timer passes off)."""

    class Watcher(DeploymentWatcher):
        def tick(self) -> Any:
            passes.record()
            return super().tick()

    return Watcher(_NoRaft(), store, tick_s=QUIET_S)  # type: ignore[arg-type]


def _job(s: StateStore, index: int, job_id: str = "web") -> None:
    s.upsert_job(index, Job(id=job_id), submit_time=index)


def _alloc(s: StateStore, index: int) -> None:
    s.upsert_allocs(index, [Allocation(id=f"a{index}", job_id="web", node_id="n1")])


def test_deployment_watcher_wakes_for_deployments_and_while_one_runs_allocs(
    store: StateStore,
) -> None:
    passes = _Passes(store)

    w = _counted_watcher(store, passes)
    w.start()
    try:
        passes.wait_parked_after(1)
        # nothing runs: job and allocation commits leave it parked
        passes.commit(lambda s: _job(s, 2))
        passes.commit(lambda s: _alloc(s, 3))
        passes.assert_not_woken(1)
        # a running deployment (of a job it does not know: it acts on nothing)
        passes.commit(lambda s: s.upsert_deployment(4, Deployment(id="d1", job_id="gone")))
        passes.wait_parked_after(2)
        # now allocation commits matter (canary health), job commits still not
        passes.commit(lambda s: _job(s, 5, "api"))
        passes.assert_not_woken(2)
        passes.commit(lambda s: _alloc(s, 6))
        passes.wait_parked_after(3)
        # woken at once, but the pass waited out the minimum interval
        assert passes.at[2] - passes.at[1] >= MIN_PASS_INTERVAL_S * 0.9
    finally:
        w.stop()


def test_deployment_watcher_coalesces_a_burst_of_commits(store: StateStore) -> None:
    passes = _Passes(store)

    w = _counted_watcher(store, passes)
    w.start()
    try:
        passes.wait_parked_after(1)
        index = 1
        # a deployment commit after every pass-worth of time would make a
        # pass per commit without the minimum interval
        while passes.count() < 5:
            index += 1
            passes.commit(
                lambda s, i=index: s.upsert_deployment(i, Deployment(id=f"d{i}", job_id="x"))
            )
            # the Raft thread's socket I/O between entries lets the loop run
            threading.Event().wait(0.001)
        gaps = [b - a for a, b in zip(passes.at[1:], passes.at[2:], strict=False)]
        assert min(gaps) >= MIN_PASS_INTERVAL_S * 0.9, gaps
        assert index > passes.count() * 2  # several commits per pass
    finally:
        w.stop()


def test_drainer_wakes_for_nodes_and_while_a_node_drains_allocs_and_jobs(
    store: StateStore,
) -> None:
    passes = _Passes(store)

    class Drainer(NodeDrainer):
        def tick(self) -> None:
            passes.record()
            super().tick()

    store.upsert_node(1, Node(id="n1", status="ready"), now="t")
    d = Drainer(_NoRaft(), store, tick_s=QUIET_S)  # type: ignore[arg-type]
    d.start()
    try:
        passes.wait_parked_after(1)
        passes.commit(lambda s: _job(s, 2))
        passes.commit(lambda s: _alloc(s, 3))
        passes.assert_not_woken(1)
        # a drain starts (its completion is never committed: _NoRaft)
        passes.commit(
            lambda s: s.update_node_drain(4, "n1", {"Deadline": 3600}, False, False, None, "t")
        )
        passes.wait_parked_after(2)
        passes.commit(lambda s: _alloc(s, 5))
        passes.wait_parked_after(3)
        passes.commit(lambda s: _job(s, 6, "api"))  # a job's count may change
        passes.wait_parked_after(4)
        # a table it never reads
        passes.commit(lambda s: s.upsert_evals(7, []))
        passes.assert_not_woken(4)
    finally:
        d.stop()


def test_keyring_sync_wakes_only_for_key_metadata(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyring, "SYNC_RECHECK_S", QUIET_S)
    passes = _Passes(store)
    ring = Keyring(_NoRaft(), store, None, None, "10.0.0.1:4647")  # type: ignore[arg-type]
    real_sync = ring.sync

    def sync() -> None:
        passes.record()
        real_sync()

    ring.sync = sync  # type: ignore[method-assign]
    store.upsert_root_key(1, ring.new_key())
    ring.start()
    try:
        passes.wait_parked_after(1)
        passes.commit(lambda s: _job(s, 2))
        passes.commit(lambda s: _alloc(s, 3))
        passes.assert_not_woken(1)
        passes.commit(lambda s: s.upsert_root_key(4, ring.new_key()))
        passes.wait_parked_after(2)
    finally:
        ring.stop()
