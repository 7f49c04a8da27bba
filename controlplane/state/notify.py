"""Index-change notification for blocking queries, for threads and asyncio.

The store calls `notify()` after every applied write (from the Raft thread);
waiters re-run their query and compare indexes. Never polls.
"""

from __future__ import annotations

import asyncio
import threading


class ChangeNotifier:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._lock = threading.Lock()
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
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
            futures, self._futures = self._futures, []
        for loop, fut in futures:
            loop.call_soon_threadsafe(_resolve, fut)

    def wait(self, timeout: float) -> bool:
        """Block the calling thread until the next change or `timeout` seconds."""
        with self._cond:
            seq = self._seq
            return self._cond.wait_for(lambda: self._seq != seq or self.closed, timeout)

    async def wait_async(self, timeout: float) -> None:
        """Wait on the running loop until the next change or `timeout` seconds."""
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._futures.append((loop, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._futures = [(lp, f) for lp, f in self._futures if f is not fut]


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
