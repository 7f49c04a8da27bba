"""ChangeNotifier: asyncio waiters with a ready check wake only once it holds."""

from __future__ import annotations

import asyncio

from controlplane.state.notify import ChangeNotifier


async def _settle() -> None:
    # let call_soon_threadsafe callbacks and the woken task run
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiter_sleeps_through_changes_its_check_rejects() -> None:
    n = ChangeNotifier()
    state = {"index": 1}
    task = asyncio.ensure_future(n.wait_async(30.0, lambda: state["index"] > 1))
    await _settle()
    n.notify()  # another table changed: check still false
    await _settle()
    assert not task.done()
    state["index"] = 2
    n.notify()
    await asyncio.wait_for(task, 1.0)


async def test_change_landed_before_parking_returns_at_once() -> None:
    n = ChangeNotifier()
    # the caller's check raced a commit: the notifier re-checks as it parks
    await asyncio.wait_for(n.wait_async(30.0, lambda: True), 1.0)
    assert not n._futures


async def test_waiter_without_check_wakes_on_any_change_and_close_wakes_all() -> None:
    n = ChangeNotifier()
    plain = asyncio.ensure_future(n.wait_async(30.0))
    checked = asyncio.ensure_future(n.wait_async(30.0, lambda: False))
    await _settle()
    n.notify()
    await asyncio.wait_for(plain, 1.0)
    assert not checked.done()
    n.close()
    await asyncio.wait_for(checked, 1.0)


async def test_timeout_forgets_the_waiter() -> None:
    n = ChangeNotifier()
    await n.wait_async(0.01, lambda: False)
    assert not n._futures
