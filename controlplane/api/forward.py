"""Forwarding of leader-only requests from a follower to the leader's HTTP API.

Writes need no forwarding (pysyncobj carries them to the leader), but some
requests act on state only the leader keeps — node heartbeats reset the
leader's timers. A follower hands those to the leader and relays its answer.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import NoLeader

from .common import agent_of, server_of

TIMEOUT_S = 10.0


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
