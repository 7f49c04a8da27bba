"""Client resource usage (Nomad's /v1/client stats endpoints), served by the
agent whose client runs the node or the allocation:

GET /v1/client/stats[?node_id=]              HostStats of the node
GET /v1/client/allocation/:id/stats          AllocResourceUsage of the alloc

On another agent (a server) the request is proxied to the HTTP address of
the node concerned, as logs are (client_fs.py), with the caller's token.
An allocation's stats need read-job in its namespace, checked on the agent
that answers (host stats: node:read, the route guard's). Measuring is
controlplane/client/stats.py's job; this module only routes and serialises.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx
from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import READ_JOB
from controlplane.client.agent import ClientAgent
from controlplane.client.stats import StatsCollector
from controlplane.errors import InternalError, NotFound, ValidationError

from .common import (
    agent_of,
    auth_headers,
    json_response,
    require_namespace,
)

PROXY_TIMEOUT_S = 30.0

# one collector per client agent: it keeps the previous CPU samples
_collectors: weakref.WeakKeyDictionary[ClientAgent, StatsCollector] = weakref.WeakKeyDictionary()


def _collector(client: ClientAgent) -> StatsCollector:
    collector = _collectors.get(client)
    if collector is None:
        node = client.node
        total_mhz = node.node_resources.cpu.cpu_shares if node is not None else 0
        collector = StatsCollector(total_mhz, client.drivers)
        _collectors[client] = collector
    return collector


async def host_stats(request: Request) -> Response:
    agent = agent_of(request)
    node_id = request.query_params.get("node_id", "")
    client = agent.client
    if client is not None and node_id in ("", client.node_id):
        data = await asyncio.to_thread(_collector(client).host_stats)
        return json_response(request, data)
    if not node_id:
        raise ValidationError("missing node ID")
    server = agent.server
    node = server.store.node_by_id(node_id) if server is not None else None
    if node is None:
        raise NotFound(f"Unknown node {node_id}")
    return await _proxy(request, node.http_addr, f"node {node_id[:8]}")


async def alloc_stats(request: Request) -> Response:
    agent = agent_of(request)
    alloc_id = request.path_params["alloc_id"]
    client = agent.client
    runner = client.runner(alloc_id) if client is not None else None
    if client is not None and runner is not None:
        require_namespace(request, runner.alloc.namespace, READ_JOB)
        data = await asyncio.to_thread(_collector(client).alloc_stats, runner)
        return json_response(request, data)
    server = agent.server
    alloc = server.store.alloc_by_id(alloc_id) if server is not None else None
    if alloc is None or server is None:
        raise NotFound(f'Unknown allocation "{alloc_id}"')
    require_namespace(request, alloc.namespace, READ_JOB)
    node = server.store.node_by_id(alloc.node_id)
    return await _proxy(request, node.http_addr if node else "", f"allocation {alloc_id[:8]}")


async def _proxy(request: Request, http_addr: str, what: str) -> Response:
    """Forward the GET to the agent at `http_addr` (never to this agent itself)."""
    config = agent_of(request).config
    if not http_addr or http_addr == config.http_addr:
        raise NotFound(f"no client agent serves {what}")
    url = f"{config.tls.url(http_addr)}{request.url.path}"
    async with httpx.AsyncClient(
        timeout=PROXY_TIMEOUT_S, verify=config.tls.client_verify()
    ) as client:
        try:
            upstream = await client.get(
                url, params=request.query_params, headers=auth_headers(request)
            )
        except httpx.TransportError as exc:
            raise InternalError(
                f"client agent of {what} unreachable at {http_addr}: {exc}"
            ) from None
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )
