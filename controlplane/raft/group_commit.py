"""Group commit for writes submitted from an asyncio event loop.

Every Raft entry costs the leader a pickle, a zlib pass and a send per
follower, and a journal write on every server, whatever its size. When many
API requests write at once, the committer keeps at most `max_in_flight`
entries in flight and packs everything that arrives meanwhile into the next
one (a `BATCH` entry that the FSM applies in order, each sub-entry with its
own result). A lone write goes out at once as a plain entry, so an idle
cluster pays no extra latency; a busy one pays one entry per round trip
instead of one per request.

Owns batching and completion only; what an entry does is the FSM's business,
and waiting with a timeout is the caller's (RaftNode.submit_async).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pysyncobj import FAIL_REASON

from .messages import Batch, BatchEntry, MsgType, encode

Outcome = tuple[Any, int]  # (ApplyResult | None, pysyncobj FAIL_REASON)
Apply = Callable[[int, bytes, Callable[[Any, int], None]], None]


@dataclass
class _Flight:
    futures: list[asyncio.Future[Outcome]] = field(default_factory=list)
    done: bool = False


class GroupCommitter:
    """Coalesces concurrent writes of one event loop into few Raft entries."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        apply: Apply,
        max_in_flight: int = 2,
        max_batch: int = 256,
        expire_s: float = 5.0,
    ) -> None:
        self._loop = loop
        self._apply = apply
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._expire_s = expire_s
        self._pending: list[tuple[int, bytes, asyncio.Future[Outcome]]] = []
        self._in_flight: list[_Flight] = []

    def submit(self, msg_type: int, payload: bytes) -> asyncio.Future[Outcome]:
        """Queue one entry; the future resolves to its own (result, reason)."""
        fut: asyncio.Future[Outcome] = self._loop.create_future()
        self._pending.append((msg_type, payload, fut))
        self._flush()
        return fut

    def _flush(self) -> None:
        while self._pending and len(self._in_flight) < self._max_in_flight:
            items = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            flight = _Flight([fut for _, _, fut in items])
            self._in_flight.append(flight)
            if len(items) == 1:
                msg_type, payload = items[0][0], items[0][1]
            else:
                msg_type = int(MsgType.BATCH)
                payload = encode(Batch([BatchEntry(t, p) for t, p, _ in items]))

            def callback(result: Any, err: int, flight: _Flight = flight) -> None:
                # Raft thread: hand over to the loop, never touch state here
                self._loop.call_soon_threadsafe(self._complete, flight, result, err)

            # A write that never completes (no leader) must not hold its
            # slot forever: its callers time out on their own, and the slot
            # is released for whatever queued up behind it.
            self._loop.call_later(self._expire_s, self._complete, flight, None, -1)
            self._apply(msg_type, payload, callback)

    def _complete(self, flight: _Flight, result: Any, err: int) -> None:
        if flight.done:
            return
        flight.done = True
        self._in_flight.remove(flight)
        if err != -1:
            outcomes = _split(flight, result, err)
            for fut, outcome in zip(flight.futures, outcomes, strict=True):
                if not fut.done():
                    fut.set_result(outcome)
        self._flush()


def _split(flight: _Flight, result: Any, err: int) -> list[Outcome]:
    if len(flight.futures) == 1:
        return [(result, err)]
    batch = getattr(result, "batch", None)
    if err != FAIL_REASON.SUCCESS or batch is None or len(batch) != len(flight.futures):
        if err == FAIL_REASON.SUCCESS:
            # the FSM could not decode the batch: every writer sees its error
            return [(result, err)] * len(flight.futures)
        return [(None, err)] * len(flight.futures)
    return [(r, err) for r in batch]
