"""Event stream: GET /v1/event/stream (API.md §2.8).

NDJSON: `{}` at once and every HEARTBEAT_S, then `{"Index": N, "Events":
[...]}` per applied entry that has events the subscriber wants. `index`
resumes from the FSM's ring buffer (the oldest batch it still holds when
`index` is older), `namespace` (`*` = all) and repeatable `topic=Topic:Key`
filter. What a token sees (as Nomad's event endpoint): Job, Evaluation,
Allocation, Deployment and Service events of namespaces where it has
read-job, Node events with node:read, anything else (ACL topics) only with a
management token; asking for a named namespace or a topic it may not read is
a 403, while `*` (namespace or topic) quietly narrows to what it may see.
The stream waits on the buffer and the store's change notifier,
never polls; it ends when the client goes away (Starlette cancels it) or the
agent shuts down (the notifier closes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from controlplane.acl import ACL, READ_JOB
from controlplane.errors import ValidationError
from controlplane.state.events import Event, EventBuffer, EventFilter, encode_batch
from controlplane.state.notify import ChangeNotifier

from .common import acl_of, namespace_filter, namespace_of, require, server_of

HEARTBEAT_S = 30.0
HEARTBEAT = b"{}\n"
NAMESPACED_TOPICS = frozenset({"Job", "Evaluation", "Allocation", "Deployment", "Service"})


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


def event_permission(
    acl: ACL, topics: dict[str, frozenset[str]], visible: Callable[[str], bool]
) -> Callable[[Event], bool]:
    """Which events the token may receive; 403 for an explicitly requested
    topic it can never read. `visible` is the namespace filter for read-job."""
    if acl.is_management():
        return lambda _ev: True
    for topic in topics:
        if topic == "Node":
            require(acl.allow_node_read())
        elif topic != "*" and topic not in NAMESPACED_TOPICS:
            require(False)
    node_read = acl.allow_node_read()

    def allowed(ev: Event) -> bool:
        if ev.topic in NAMESPACED_TOPICS:
            return visible(ev.namespace)
        if ev.topic == "Node":
            return node_read
        return False

    return allowed


def _visible(
    request: Request, acl: ACL, topics: dict[str, frozenset[str]]
) -> Callable[[str], bool]:
    """Namespaces whose events the token sees. Only an explicitly requested
    namespaced topic makes an unreadable `?namespace=` a 403; the `*` topic
    (and Node-only subscriptions) just narrow."""
    if any(t in NAMESPACED_TOPICS for t in topics):
        return namespace_filter(request, READ_JOB)
    ns = namespace_of(request)
    return lambda candidate: (
        (ns in ("*", candidate)) and acl.allow_namespace_operation(candidate, READ_JOB)
    )


async def stream(request: Request) -> Response:
    server = server_of(request)
    start = _start_index(request)
    topics = parse_topics(request.query_params.getlist("topic"))
    acl = acl_of(request)
    allowed = event_permission(acl, topics, _visible(request, acl, topics))
    filt = EventFilter(topics, namespace_of(request))
    body = _events(server.raft.fsm.events, server.store.notifier, filt, start, allowed)
    return StreamingResponse(
        body, media_type="application/json", headers={"Cache-Control": "no-cache"}
    )


async def _events(
    buffer: EventBuffer,
    notifier: ChangeNotifier,
    filt: EventFilter,
    start: int,
    allowed: Callable[[Event], bool] = lambda _ev: True,
) -> AsyncIterator[bytes]:
    yield HEARTBEAT
    next_index = start  # deliver batches with Index >= next_index
    beat_at = time.monotonic() + HEARTBEAT_S
    while not notifier.closed:
        batches = buffer.since(next_index)
        for batch in batches:
            wanted = [e for e in filt.select(batch.events) if allowed(e)]
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
