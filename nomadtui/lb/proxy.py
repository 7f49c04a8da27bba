"""The reverse proxy: a raw ASGI app that forwards each request to a healthy
instance of the matching route over pooled keep-alive connections
(`upstream.UpstreamPool`).

Streams both bodies (never buffers them), drops hop-by-hop headers, adds
`X-Forwarded-For/Proto/Host`. Answers 404 when no route matches and 502
when a route has no healthy instance or its backend fails. Never reads the
catalog itself: it asks `table()` for the current routing table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from .routes import Instance, Picker, Route, RoutingTable
from .upstream import ConnectFailed, UpstreamError, UpstreamPool, _Conn

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# RFC 9110 §7.6.1 plus the legacy ones proxies still strip. `expect` too:
# the front server already answered the client's 100-continue.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)

# Requests without a body may go to another instance when the first refuses
# the connection (it was stopped but the catalog has not caught up yet).
_CONNECT_ATTEMPTS = 3


def _hop_by_hop(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    if not any(name == b"connection" for name, _ in headers):
        return HOP_BY_HOP
    named = {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    }
    return HOP_BY_HOP | named


class ProxyApp:
    def __init__(
        self,
        table: Callable[[], RoutingTable],
        picker: Picker,
        pool: UpstreamPool,
    ) -> None:
        self._table = table
        self._picker = picker
        self._pool = pool
        self.hits: Counter[str] = Counter()  # instance ID -> requests sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not proxied
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        host = next((v.decode("latin-1") for k, v in headers if k == b"host"), "")
        path: str = scope["path"]
        route = self._table().lookup(host, path)
        if route is None:
            await _plain(send, 404, f"no route for {host}{path}\n")
            return
        raw_path: bytes = scope.get("raw_path") or path.encode()
        target = route.upstream_path(raw_path.decode("latin-1")).encode("latin-1")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        out_headers = _forward_headers(scope, headers, host)
        has_length = any(k == b"content-length" for k, _ in headers)
        has_body = has_length or any(k == b"transfer-encoding" for k, _ in headers)
        chunked = has_body and not has_length
        if chunked:
            out_headers.append((b"transfer-encoding", b"chunked"))
        method: str = scope["method"]
        head = b"".join(
            [
                f"{method} ".encode(),
                target,
                b" HTTP/1.1\r\n",
                *(k + b": " + v + b"\r\n" for k, v in out_headers),
                b"\r\n",
            ]
        )
        body = _request_body(receive) if has_body else None

        tried: list[str] = []
        attempts = 1 if has_body else _CONNECT_ATTEMPTS
        while True:
            inst = self._picker.pick(route, avoid=tried)
            if inst is None:
                await _no_instance(send, route, tried)
                return
            tried.append(inst.id)
            try:
                conn, status, resp_headers = await self._exchange(inst, head, body, chunked)
            except ConnectFailed as exc:
                if len(tried) < attempts:
                    continue
                await _backend_failed(send, route, inst, exc)
                return
            except UpstreamError as exc:
                await _backend_failed(send, route, inst, exc)
                return
            break
        self.hits[inst.id] += 1
        try:
            await _relay(conn, status, resp_headers, method, receive, send)
        finally:
            self._pool.release(conn)

    async def _exchange(
        self, inst: Instance, head: bytes, body: AsyncIterator[bytes] | None, chunked: bool
    ) -> tuple[_Conn, int, list[tuple[bytes, bytes]]]:
        conn, reused = await self._pool.acquire(inst.address, inst.port)
        try:
            await conn.send(head, body, chunked)
            status, headers = await conn.response_head()
        except UpstreamError:
            conn.close()
            # an idle connection the backend closed meanwhile: once more, fresh
            if not (reused and not conn.received and body is None):
                raise
            conn, _ = await self._pool.acquire(inst.address, inst.port)
            try:
                await conn.send(head, None, chunked)
                status, headers = await conn.response_head()
            except UpstreamError:
                conn.close()
                raise
        return conn, status, headers


def _forward_headers(
    scope: Scope, headers: list[tuple[bytes, bytes]], host: str
) -> list[tuple[bytes, bytes]]:
    drop = _hop_by_hop(headers)
    out = [(k, v) for k, v in headers if k not in drop]
    client = scope.get("client")
    peer = client[0].encode() if client else b""
    xff = next((v for k, v in out if k == b"x-forwarded-for"), b"")
    out = [(k, v) for k, v in out if k != b"x-forwarded-for"]
    if peer:
        out.append((b"x-forwarded-for", xff + b", " + peer if xff else peer))
    elif xff:
        out.append((b"x-forwarded-for", xff))
    names = {k for k, _ in out}
    if b"x-forwarded-proto" not in names:
        out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    if b"x-forwarded-host" not in names and host:
        out.append((b"x-forwarded-host", host.encode("latin-1")))
    return out


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise UpstreamError("client went away while sending the body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _watch_disconnect(receive: Receive, conn: _Conn) -> None:
    """Closes the backend connection when the client goes away, so an endless
    stream is not read for nobody."""
    while (await receive())["type"] != "http.disconnect":
        pass
    conn.close()


async def _relay(
    conn: _Conn,
    status: int,
    headers: list[tuple[bytes, bytes]],
    method: str,
    receive: Receive,
    send: Send,
) -> None:
    drop = _hop_by_hop(headers)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k, v) for k, v in headers if k not in drop],
        }
    )
    if method == "HEAD":
        conn.head_only()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    watcher = None
    if not any(k == b"content-length" for k, _ in headers):
        # a stream of unknown length may never end by itself
        watcher = asyncio.ensure_future(_watch_disconnect(receive, conn))
    more = True
    try:
        async for chunk in conn.body():
            # the last chunk closes the response itself: one ASGI send fewer
            # per response (uvicorn's send is the proxy's top cost in a profile)
            more = not conn.complete
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
    except UpstreamError as exc:
        # headers are out: all we can do is cut the connection (server closes it)
        log.warning("backend stream broke backend=%s:%s: %s", *conn.key, exc)
        conn.close()
        return
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    if more:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _service_names(route: Route) -> str:
    return ", ".join(route.services)


async def _no_instance(send: Send, route: Route, tried: list[str]) -> None:
    if tried:
        text = f"no reachable instance for {route.key} (service {_service_names(route)})\n"
    else:
        text = f"no healthy instance for {route.key} (service {_service_names(route)})\n"
    await _plain(send, 502, text)


async def _backend_failed(send: Send, route: Route, inst: Instance, exc: Exception) -> None:
    reason = str(exc) or type(exc).__name__
    log.warning("backend failed route=%s instance=%s: %s", route.key, inst.id, reason)
    await _plain(
        send,
        502,
        f"backend {inst.hostport} for {route.key} (service {inst.service}) failed: {reason}\n",
    )
