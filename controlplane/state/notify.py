"""Index-change notification for blocking queries, for threads and asyncio.

The FSM calls `notify()` after every applied entry (from the Raft thread).
A waiter, thread or asyncio, may pass a `ready` check (the index it waits
for was applied, its tables moved): it is then woken only once that holds,
so a commit to the allocations table does not wake every request or loop
parked on the jobs table just to park it again. A waiter without a check
wakes on every change. Each parked waiter is registered on its own (a
thread's private lock, a loop's future), so notify() wakes exactly the
waiters whose check holds and costs one cheap check per parked waiter.
Never polls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

_Ready = Callable[[], bool] | None
_Waiter = tuple[asyncio.AbstractEventLoop, _Ready]


class ChangeNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # parked threads: each one's private lock (held until released by
        # notify) -> its ready check
        self._threads: dict[threading.Lock, _Ready] = {}
        # parked asyncio waiters: future -> (its loop, its ready check)
        self._futures: dict[asyncio.Future[None], _Waiter] = {}
        self.closed = False

    def close(self) -> None:
        """Release every waiter now and make later waits return at once (shutdown)."""
        with self._lock:
            # under the lock: a waiter registering now either sees `closed`
            # or is registered before the notify below runs
            self.closed = True
        self.notify()

    def notify(self) -> None:
        with self._lock:
            closed = self.closed
            if self._threads:
                woken = [
                    w
                    for w, ready in self._threads.items()
                    if closed or ready is None or _holds(ready)
                ]
                for w in woken:
                    del self._threads[w]
                    w.release()
            if not self._futures:
                return
            due = [
                (fut, loop)
                for fut, (loop, ready) in self._futures.items()
                if closed or ready is None or _holds(ready)
            ]
            for fut, _ in due:
                del self._futures[fut]
        for fut, loop in due:
            loop.call_soon_threadsafe(_resolve, fut)

    def wait(self, timeout: float, ready: _Ready = None) -> bool:
        """Block the calling thread until the next change (one after which
        `ready()` holds, if given) or `timeout` seconds. True when woken by
        such a change (or the check already held, or the notifier is
        closed), False on timeout.

        `ready` runs in the notifying (Raft) thread: it must be cheap, must
        not block, and must not take the store lock.
        """
        waiter = threading.Lock()
        waiter.acquire()
        with self._lock:
            if self.closed:
                return True
            # checked under the lock notify() holds: a change that landed
            # between the caller's check and here is not missed
            if ready is not None and _holds(ready):
                return True
            self._threads[waiter] = ready
        if timeout > 0 and waiter.acquire(timeout=timeout):
            return True
        with self._lock:
            if waiter in self._threads:
                del self._threads[waiter]
                return False
        # gone from the map: a notify released it just as we timed out
        return True

    async def wait_async(self, timeout: float, ready: _Ready = None) -> None:
        """Wait on the running loop until the next change (one after which
        `ready()` holds, if given) or `timeout` seconds.

        `ready` runs in the notifying (Raft) thread: it must be cheap, must
        not block, and must not take the store lock.
        """
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            # checked under the lock notify() holds: a change that landed
            # between the caller's check and here is not missed
            if self.closed or (ready is not None and _holds(ready)):
                return
            self._futures[fut] = (loop, ready)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._futures.pop(fut, None)


def _holds(ready: Callable[[], bool]) -> bool:
    try:
        return ready()
    except Exception:  # a broken check must not strand its waiter
        return True


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
