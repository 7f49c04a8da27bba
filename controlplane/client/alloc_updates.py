"""Batched allocation status reporting: keeps the newest AllocClientUpdate
per allocation and sends what is pending with one `update_allocs` call at
most every `interval_s`, retrying failed sends. Owns one thread; never reads
task or allocation state itself.

A deployment health verdict travels on one update only, so coalescing never
drops it: a newer update without `deployment_status` inherits the unsent one.
"""

from __future__ import annotations

import logging
import threading

from controlplane.structs import AllocClientUpdate

from .rpc import ServerRPC

log = logging.getLogger(__name__)


def merged(older: AllocClientUpdate | None, newer: AllocClientUpdate) -> AllocClientUpdate:
    """`newer`, keeping `older`'s deployment_status when `newer` has none."""
    if older is None or older.deployment_status is None or newer.deployment_status is not None:
        return newer
    return newer.replace(deployment_status=older.deployment_status)


class AllocUpdater:
    def __init__(
        self,
        rpc: ServerRPC,
        interval_s: float = 0.2,
        retry_max_s: float = 5.0,
    ) -> None:
        self._rpc = rpc
        self.interval_s = interval_s
        self.retry_max_s = retry_max_s
        self._cond = threading.Condition()
        self._pending: dict[str, AllocClientUpdate] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None

    def put(self, update: AllocClientUpdate) -> None:
        """Queue `update`, replacing any unsent one for the same allocation."""
        with self._cond:
            self._pending[update.id] = merged(self._pending.get(update.id), update)
            self._cond.notify()

    def pending(self) -> dict[str, AllocClientUpdate]:
        with self._cond:
            return dict(self._pending)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="client-alloc-updater", daemon=True)
        self._thread.start()

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Stop the loop, then try once more to send what is pending."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(flush_timeout)
        self.flush()

    def flush(self) -> bool:
        """Send everything pending now; True on success (or nothing to send)."""
        with self._cond:
            batch, self._pending = self._pending, {}
        if not batch:
            return True
        try:
            self._rpc.update_allocs(list(batch.values()))
            return True
        except Exception as exc:
            log.warning("alloc update failed count=%d: %s", len(batch), exc)
            self._requeue(batch)
            return False

    def _requeue(self, batch: dict[str, AllocClientUpdate]) -> None:
        with self._cond:
            # updates queued meanwhile are newer: they win
            for alloc_id, upd in batch.items():
                newer = self._pending.get(alloc_id)
                self._pending[alloc_id] = upd if newer is None else merged(upd, newer)

    def _run(self) -> None:
        backoff = self.interval_s
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
            # let more updates gather: one RPC per window
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, timeout=self.interval_s)
                if self._stopping:
                    return
            if self.flush():
                backoff = self.interval_s
            else:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=backoff)
                backoff = min(backoff * 2, self.retry_max_s)
