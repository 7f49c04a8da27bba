"""Forwarding of requests to another agent's HTTP API, and relaying its answer.

`to_leader`: writes need no forwarding (pysyncobj carries them to the leader),
but some requests act on state only the leader keeps — node heartbeats reset
the leader's timers. A follower hands those to the leader and relays its
(small, buffered) answer.

`open_upstream` / `relay`: the streaming proxy region_forward.py uses: the
upstream answer (status, headers, body) goes through as it arrives, so
blocking queries, the event stream and log streams are not buffered.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from controlplane.errors import NoLeader

from .common import agent_of, server_of

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
# connection-level headers: each hop sets its own (RFC 9110 §7.6.1); the
# length is re-set by httpx (request) and kept only when the body is relayed raw
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)


async def to_leader(request: Request) -> Response | None:
    """None when this server leads (handle locally); else the leader's response."""
    server = server_of(request)
    if server.is_leader():
        return None
    leader = server.leader_http_addr()
    if not leader:
        raise NoLeader("No cluster leader")
    body = await request.body()
    tls = agent_of(request).config.tls
    async with httpx.AsyncClient(timeout=TIMEOUT_S, verify=tls.client_verify()) as client:
        try:
            upstream = await client.request(
                request.method,
                f"{tls.url(leader)}{request.url.path}",
                params=request.query_params,
                content=body,
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() in ("content-type", "x-nomad-token", "authorization")
                },
            )
        except httpx.TransportError as exc:
            raise NoLeader(f"No cluster leader (forwarding to {leader} failed: {exc})") from None
    headers = {k: v for k, v in upstream.headers.items() if k.lower().startswith("x-nomad-")}
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type"),
        headers=headers,
    )


async def open_upstream(
    method: str,
    url: str,
    body: bytes,
    headers: list[tuple[str, str]],
    verify: ssl.SSLContext | bool,
    timeout: httpx.Timeout,
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """Send the request; the response is open (its body not read yet).

    The caller owns both: `relay` closes them. Transport errors propagate
    (httpx.ConnectError means the request never left)."""
    client = httpx.AsyncClient(timeout=timeout, verify=verify)
    try:
        request = client.build_request(
            method,
            url,
            content=body,
            headers=[
                (k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | {"content-length"}
            ],
        )
        upstream = await client.send(request, stream=True)
    except BaseException:
        await client.aclose()
        raise
    return client, upstream


def relay(client: httpx.AsyncClient, upstream: httpx.Response) -> Response:
    """The upstream answer as this agent's response, body streamed raw (still
    gzipped if it was), closed when done or when the caller goes away."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            # the upstream went away mid-answer: end ours (streams reconnect)
            log.info("forward: upstream %s ended early: %s", upstream.url, exc)
        finally:
            await upstream.aclose()
            await client.aclose()

    headers = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in HOP_BY_HOP]
    response = StreamingResponse(body(), status_code=upstream.status_code)
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response
