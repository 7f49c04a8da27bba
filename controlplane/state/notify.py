"""Index-change notification for blocking queries, for threads and asyncio.

The FSM calls `notify()` after every applied entry (from the Raft thread).
Thread waiters wake on every change and re-check. An asyncio waiter may pass
a `ready` check (its tables' index passed the one it waits beyond): it is
then woken only once that holds, so a commit to the allocations table does
not wake every request parked on the jobs table just to park it again.
Never polls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

_Waiter = tuple[asyncio.AbstractEventLoop, Callable[[], bool] | None]


class ChangeNotifier:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._lock = threading.Lock()
        # parked asyncio waiters: future -> (its loop, its ready check)
        self._futures: dict[asyncio.Future[None], _Waiter] = {}
        self.closed = False

    def close(self) -> None:
        """Release every waiter now and make later waits return at once (shutdown)."""
        self.closed = True
        self.notify()

    def notify(self) -> None:
        with self._cond:
            self._seq += 1
            self._cond.notify_all()
        with self._lock:
            due = [
                (fut, loop)
                for fut, (loop, ready) in self._futures.items()
                if self.closed or ready is None or _holds(ready)
            ]
            for fut, _ in due:
                del self._futures[fut]
        for fut, loop in due:
            loop.call_soon_threadsafe(_resolve, fut)

    def wait(self, timeout: float) -> bool:
        """Block the calling thread until the next change or `timeout` seconds."""
        with self._cond:
            seq = self._seq
            return self._cond.wait_for(lambda: self._seq != seq or self.closed, timeout)

    async def wait_async(self, timeout: float, ready: Callable[[], bool] | None = None) -> None:
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
            if ready is not None and _holds(ready):
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
