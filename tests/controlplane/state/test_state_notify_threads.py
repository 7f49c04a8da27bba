"""ChangeNotifier thread waiters: a ready check keeps a thread parked through
changes it rejects, no wake is lost to a race, close releases everybody; and
RaftNode.wait_for_index waits with such a check.

notify() takes a woken thread off the parked set before it returns, so
"still parked right after notify()" is a deterministic "was not woken".
"""

from __future__ import annotations

import threading
from functools import partial
from types import SimpleNamespace
from typing import Any

from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.state.notify import ChangeNotifier
from tests.waiting import wait_for


class _Waiter(threading.Thread):
    """A thread doing one `wait`, keeping its result."""

    def __init__(self, fn: Any) -> None:
        super().__init__(daemon=True)
        self._fn = fn
        self.result: Any = None

    def run(self) -> None:
        self.result = self._fn()

    def finish(self) -> Any:
        self.join(5.0)
        assert not self.is_alive(), "waiter still blocked"
        return self.result


def _reached(state: dict[str, int], target: int) -> bool:
    return state["index"] >= target


def _parked(n: ChangeNotifier, count: int) -> None:
    wait_for(lambda: len(n._threads) == count, timeout=5.0, what=f"{count} parked waiters")


def test_a_waiter_sleeps_through_changes_its_check_rejects() -> None:
    n = ChangeNotifier()
    state = {"index": 1}
    w = _Waiter(lambda: n.wait(30.0, ready=lambda: state["index"] > 1))
    w.start()
    _parked(n, 1)
    for _ in range(3):
        n.notify()  # another table moved: the check is still false
        assert len(n._threads) == 1 and w.is_alive()
    state["index"] = 2
    n.notify()
    assert not n._threads
    assert w.finish() is True


def test_only_the_waiters_whose_check_holds_are_woken() -> None:
    n = ChangeNotifier()
    state = {"jobs": 0, "allocs": 0}
    jobs = _Waiter(lambda: n.wait(30.0, ready=lambda: state["jobs"] > 0))
    allocs = _Waiter(lambda: n.wait(30.0, ready=lambda: state["allocs"] > 0))
    jobs.start()
    allocs.start()
    _parked(n, 2)
    state["allocs"] = 1
    n.notify()
    assert allocs.finish() is True
    assert len(n._threads) == 1 and jobs.is_alive()
    n.close()
    assert jobs.finish() is True


def test_a_waiter_without_a_check_wakes_on_any_change() -> None:
    n = ChangeNotifier()
    w = _Waiter(lambda: n.wait(30.0))
    w.start()
    _parked(n, 1)
    n.notify()
    assert w.finish() is True


def test_a_change_before_parking_is_not_missed() -> None:
    n = ChangeNotifier()
    state = {"index": 1}

    def ready() -> bool:
        return state["index"] > 1

    # the caller checked (false), then a commit landed and notified nobody:
    # the notifier re-checks as it parks, under the lock notify() takes
    assert not ready()
    state["index"] = 2
    n.notify()
    w = _Waiter(lambda: n.wait(30.0, ready=ready))
    w.start()
    assert w.finish() is True
    assert not n._threads


def test_no_wake_is_lost_under_a_write_race() -> None:
    # a writer commits index after index while a waiter waits for each one
    # in turn: a wake lost between a check and a park would strand it for
    # the full 30 s timeout
    n = ChangeNotifier()
    state = {"index": 0}
    last = 3000
    done = threading.Event()

    def writer() -> None:
        while not done.is_set() and state["index"] < last:
            state["index"] += 1
            n.notify()

    def waiter() -> bool:
        # no check of its own before waiting: the one under the lock decides
        # whether it parks, sometimes before the writer's commit, sometimes after
        for target in range(1, last + 1):
            if not n.wait(30.0, ready=partial(_reached, state, target)):
                return False
        return True

    w = _Waiter(waiter)
    w.start()
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        assert w.finish() is True
    finally:
        done.set()
        t.join(5.0)


def test_close_wakes_everybody_and_later_waits_return_at_once() -> None:
    n = ChangeNotifier()
    waiters = [_Waiter(lambda: n.wait(30.0, ready=lambda: False)) for _ in range(3)]
    waiters.append(_Waiter(lambda: n.wait(30.0)))
    for w in waiters:
        w.start()
    _parked(n, 4)
    n.close()
    assert [w.finish() for w in waiters] == [True] * 4
    late = _Waiter(lambda: n.wait(30.0, ready=lambda: False))
    late.start()
    assert late.finish() is True
    assert not n._threads


def test_a_timeout_returns_false_and_forgets_the_waiter() -> None:
    n = ChangeNotifier()
    assert n.wait(0.01, ready=lambda: False) is False
    assert n.wait(0.0) is False
    assert not n._threads


def test_a_broken_check_wakes_its_waiter() -> None:
    n = ChangeNotifier()

    def broken() -> bool:
        raise RuntimeError("boom")

    # raising while parking: treated as ready (never strands the caller)
    assert n.wait(30.0, ready=broken) is True
    calls = {"n": 0}

    def breaks_later() -> bool:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("boom")
        return False

    w = _Waiter(lambda: n.wait(30.0, ready=breaks_later))
    w.start()
    _parked(n, 1)
    n.notify()
    assert w.finish() is True


def test_wait_for_index_sleeps_until_that_index_is_applied() -> None:
    store = StateStore()
    raft: Any = SimpleNamespace(store=store)
    w = _Waiter(lambda: RaftNode.wait_for_index(raft, 5, timeout=30.0))
    w.start()
    _parked(store.notifier, 1)
    for index in (2, 3, 4):
        store.mark_applied(index)
        store.notifier.notify()  # what the FSM does after each entry
        assert len(store.notifier._threads) == 1 and w.is_alive()
    store.mark_applied(5)
    store.notifier.notify()
    assert w.finish() is True
    assert RaftNode.wait_for_index(raft, 9, timeout=0.01) is False
