"""Event stream: GET /v1/event/stream (API.md §2.8).

NDJSON: `{}` at once and every HEARTBEAT_S, then `{"Index": N, "Events":
[...]}` per applied entry that has events the subscriber wants. `index`
resumes from the FSM's ring buffer (the oldest batch it still holds when
`index` is older), `namespace` (`*` = all) and repeatable `topic=Topic:Key`
filter. The stream waits on the buffer and the store's change notifier,
never polls; it ends when the client goes away (Starlette cancels it) or the
agent shuts down (the notifier closes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from controlplane.errors import ValidationError
from controlplane.state.events import EventBuffer, EventFilter, encode_batch
from controlplane.state.notify import ChangeNotifier

from .common import namespace_of, server_of

HEARTBEAT_S = 30.0
HEARTBEAT = b"{}\n"


def parse_topics(raw: list[str]) -> dict[str, frozenset[str]]:
    """`Topic[:FilterKey]` values -> topic -> keys; none at all means `*:*`."""
    if not raw:
        return {"*": frozenset({"*"})}
    topics: dict[str, set[str]] = {}
    for value in raw:
        parts = value.split(":")
        if len(parts) == 1:
            topic, key = value, "*"
        elif len(parts) == 2:
            topic, key = parts
        else:
            raise ValidationError(
                f"error parsing topics: Invalid key value pair for topic: {value}"
            )
        topics.setdefault(topic, set()).add(key)
    return {t: frozenset(keys) for t, keys in topics.items()}


def _start_index(request: Request) -> int:
    raw = request.query_params.get("index", "")
    if not raw:
        return 0
    try:
        index = int(raw)
    except ValueError:
        raise ValidationError("Invalid index") from None
    if index < 0:
        raise ValidationError("Invalid index")
    return index


async def stream(request: Request) -> Response:
    server = server_of(request)
    start = _start_index(request)
    filt = EventFilter(parse_topics(request.query_params.getlist("topic")), namespace_of(request))
    body = _events(server.raft.fsm.events, server.store.notifier, filt, start)
    return StreamingResponse(
        body, media_type="application/json", headers={"Cache-Control": "no-cache"}
    )


async def _events(
    buffer: EventBuffer, notifier: ChangeNotifier, filt: EventFilter, start: int
) -> AsyncIterator[bytes]:
    yield HEARTBEAT
    next_index = start  # deliver batches with Index >= next_index
    beat_at = time.monotonic() + HEARTBEAT_S
    while not notifier.closed:
        batches = buffer.since(next_index)
        for batch in batches:
            wanted = filt.select(batch.events)
            if wanted:
                yield encode_batch(batch.index, wanted)
        if batches:
            next_index = batches[-1].index + 1
        left = beat_at - time.monotonic()
        if left <= 0:
            yield HEARTBEAT
            beat_at = time.monotonic() + HEARTBEAT_S
            continue
        await _wait(buffer, notifier, next_index - 1, left)


async def _wait(buffer: EventBuffer, notifier: ChangeNotifier, after: int, timeout: float) -> None:
    """Until a batch newer than `after`, a shutdown, or `timeout` seconds."""
    newer = buffer.waiter(after)
    closing = asyncio.ensure_future(notifier.wait_async(timeout))
    try:
        await asyncio.wait({newer, closing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closing.cancel()
        buffer.discard(newer)
