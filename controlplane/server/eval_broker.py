"""EvalBroker: the leader's in-memory queue of evaluations to schedule.

At-least-once delivery: a dequeued evaluation stays unacked until the worker
acks it (done) or nacks it (retried, up to DELIVERY_LIMIT times). At most one
evaluation per job is ready or in flight; later ones for the same job wait in
`_pending` so two workers never schedule one job concurrently. Only the
leader enables the broker; on followers `enqueue` is a no-op. An
evaluation with a future `WaitUntil` (a delayed reschedule) is held back
until that time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from controlplane.structs import Evaluation

DELIVERY_LIMIT = 3

JobKey = tuple[str, str]


class EvalBroker:
    def __init__(
        self,
        on_failed: Callable[[Evaluation], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._delayed: list[tuple[float, int, Evaluation]] = []  # (due, seq, eval)
        self._cond = threading.Condition()
        self._enabled = False
        self._seq = itertools.count()
        self._ready: list[tuple[int, int, str]] = []  # (-priority, seq, eval id)
        self._evals: dict[str, Evaluation] = {}  # ready or unacked
        self._unacked: dict[str, str] = {}  # eval id -> token
        self._jobs: dict[JobKey, str] = {}  # job -> its ready/unacked eval
        self._pending: dict[JobKey, list[Evaluation]] = {}
        self._deliveries: dict[str, int] = {}
        self._on_failed = on_failed

    # -- leadership ------------------------------------------------------
    def set_enabled(self, enabled: bool) -> None:
        with self._cond:
            self._enabled = enabled
            if not enabled:
                self._delayed.clear()
                self._ready.clear()
                self._evals.clear()
                self._unacked.clear()
                self._jobs.clear()
                self._pending.clear()
                self._deliveries.clear()
            self._cond.notify_all()

    @property
    def enabled(self) -> bool:
        return self._enabled

    # -- producer --------------------------------------------------------
    def enqueue(self, ev: Evaluation) -> None:
        with self._cond:
            if not self._enabled or ev.id in self._evals:
                return
            due = _wait_until(ev)
            if due is not None and due > self._clock():
                if all(d.id != ev.id for _, _, d in self._delayed):
                    heapq.heappush(self._delayed, (due, next(self._seq), ev))
                    self._cond.notify_all()
                return
            self._enqueue_now(ev)

    def _enqueue_now(self, ev: Evaluation) -> None:
        if ev.id in self._evals:
            return
        key = (ev.namespace, ev.job_id)
        if key in self._jobs:
            pending = self._pending.setdefault(key, [])
            if all(p.id != ev.id for p in pending):
                pending.append(ev)
            return
        self._push(key, ev)

    def _push(self, key: JobKey, ev: Evaluation) -> None:
        self._jobs[key] = ev.id
        self._evals[ev.id] = ev
        heapq.heappush(self._ready, (-ev.priority, next(self._seq), ev.id))
        self._cond.notify()

    # -- consumer --------------------------------------------------------
    def dequeue(self, timeout: float) -> tuple[Evaluation, str] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._release_due()
                if self._ready or not self._enabled:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if self._delayed:
                    left = min(left, max(self._delayed[0][0] - self._clock(), 0.001))
                self._cond.wait(left)
            if not self._enabled or not self._ready:
                return None
            _, _, eval_id = heapq.heappop(self._ready)
            token = uuid.uuid4().hex
            self._unacked[eval_id] = token
            self._deliveries[eval_id] = self._deliveries.get(eval_id, 0) + 1
            return self._evals[eval_id], token

    def ack(self, eval_id: str, token: str) -> None:
        with self._cond:
            if self._unacked.get(eval_id) != token:
                return
            self._finish(eval_id)

    def nack(self, eval_id: str, token: str) -> None:
        failed: Evaluation | None = None
        with self._cond:
            if self._unacked.get(eval_id) != token:
                return
            del self._unacked[eval_id]
            ev = self._evals[eval_id]
            if self._deliveries.get(eval_id, 0) >= DELIVERY_LIMIT:
                failed = ev
                self._finish(eval_id)
            else:
                heapq.heappush(self._ready, (-ev.priority, next(self._seq), eval_id))
                self._cond.notify()
        if failed is not None and self._on_failed is not None:
            self._on_failed(failed)

    def _finish(self, eval_id: str) -> None:
        self._unacked.pop(eval_id, None)
        self._deliveries.pop(eval_id, None)
        ev = self._evals.pop(eval_id)
        key = (ev.namespace, ev.job_id)
        self._jobs.pop(key, None)
        pending = self._pending.pop(key, [])
        if pending:
            nxt, rest = pending[0], pending[1:]
            if rest:
                self._pending[key] = rest
            self._push(key, nxt)

    def _release_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, ev = heapq.heappop(self._delayed)
            self._enqueue_now(ev)

    # -- introspection ---------------------------------------------------
    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "ready": len(self._ready),
                "unacked": len(self._unacked),
                "pending": sum(len(p) for p in self._pending.values()),
                "delayed": len(self._delayed),
            }


def _wait_until(ev: Evaluation) -> float | None:
    """The eval's WaitUntil as a unix time, or None."""
    if not ev.wait_until:
        return None
    try:
        return datetime.fromisoformat(ev.wait_until.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
