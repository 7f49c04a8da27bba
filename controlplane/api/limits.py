"""Request body size limit: a pure ASGI middleware answering 413 with a plain-text message.

Refuses a declared `Content-Length` over the limit before the handler runs,
and counts streamed bytes (chunked bodies declare none), failing the read
that crosses the limit. It never buffers a body itself and never looks at
what the body holds (JSON depth and job size are read_body's and jobspec's).

Nomad's HTTP layer has no such limit (its Go decoders stream); a Python
handler reads a body into memory, so one is needed here. `/v1/operator/snapshot`
restores whole state snapshots and gets a larger limit of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.errors import NomadError

MIB = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 8 * MIB
SNAPSHOT_MAX_BODY_BYTES = 512 * MIB
SNAPSHOT_PATH = "/v1/operator/snapshot"

# After refusing, read (and drop) up to this much more of the body so that a
# client that writes its whole request before reading the answer (most do)
# sees the 413 rather than a reset connection; past it the connection closes.
DRAIN_BYTES = 16 * MIB


class RequestTooLarge(NomadError):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large: limit is {limit} bytes")
        self.limit = limit


class BodyLimit:
    """Wraps an ASGI app; `limits` maps exact paths to their own limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = dict(limits or {})

    def limit_for(self, path: str) -> int:
        return self.limits.get(path, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        length = expect = chunked = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = value
            elif name == b"expect":
                expect = value
            elif name == b"transfer-encoding":
                chunked = value
        declared = _content_length(length)
        if declared is not None and declared > limit:
            if (expect or b"").lower() != b"100-continue":
                # reading triggers no `100 Continue`: the client sends anyway
                await _drain(receive, DRAIN_BYTES)
            await _refuse(send, RequestTooLarge(limit))
            return
        if declared is not None and chunked is None:
            # the HTTP server frames the body by its Content-Length: no more
            # than `declared` bytes can arrive, so nothing needs counting
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_BYTES)
                    # a NomadError: the app's own handler renders it as a 413
                    raise RequestTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLarge as exc:
            if started:
                raise
            await _refuse(send, exc)


def _content_length(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None  # the HTTP server refuses a malformed one itself


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, exc: RequestTooLarge) -> None:
    body = exc.message.encode()
    headers: list[Any] = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
