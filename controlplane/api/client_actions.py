"""Client allocation actions (API.md §2.3), served by the agent that runs the alloc.

PUT/POST /v1/client/allocation/:id/restart  {TaskName, AllTasks}  -> {}
PUT/POST /v1/client/allocation/:id/signal   {Signal, Task}        -> {}

In process when this agent's client runs the allocation; otherwise proxied
to the HTTP address of the node that runs it (as logs are, client_fs.py).
Both need alloc-lifecycle in the allocation's namespace, checked on the
agent that answers (the proxied request carries the caller's token on).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import ALLOC_LIFECYCLE
from controlplane.client.alloc_runner import AllocRunner
from controlplane.drivers.base import DriverError
from controlplane.errors import NotFound, ValidationError

from .common import agent_of, auth_headers, get_ci, json_response, read_body, require_namespace

PROXY_TIMEOUT_S = 30.0


async def _optional_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    return await read_body(request)  # the body is cached: decoded once, with its limits


def _text(body: dict[str, Any], key: str) -> str:
    value = get_ci(body, key) or ""
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string")
    return value


async def restart(request: Request) -> Response:
    body = await _optional_body(request)
    task = _text(body, "TaskName")
    all_tasks = bool(get_ci(body, "AllTasks", False))
    if task and all_tasks:
        raise ValidationError("task name and all tasks options are mutually exclusive")
    runner = _local_runner(request)
    if runner is None:
        return await _proxy(request, body)
    await asyncio.to_thread(runner.restart, task, all_tasks)
    return json_response(request, {})


async def signal(request: Request) -> Response:
    body = await _optional_body(request)
    sig = _text(body, "Signal") or "SIGKILL"
    task = _text(body, "Task")
    runner = _local_runner(request)
    if runner is None:
        return await _proxy(request, body)
    try:
        await asyncio.to_thread(runner.signal, sig, task)
    except DriverError as exc:
        raise ValidationError(str(exc)) from None
    return json_response(request, {})


def _local_runner(request: Request) -> AllocRunner | None:
    client = agent_of(request).client
    runner = client.runner(request.path_params["alloc_id"]) if client is not None else None
    if runner is not None:
        require_namespace(request, runner.alloc.namespace, ALLOC_LIFECYCLE)
    return runner


async def _proxy(request: Request, body: dict[str, Any]) -> Response:
    """Forward to the agent of the node that runs the allocation."""
    agent = agent_of(request)
    alloc_id = request.path_params["alloc_id"]
    server = agent.server
    alloc = server.store.alloc_by_id(alloc_id) if server is not None else None
    if alloc is None or server is None:
        raise NotFound(f'Unknown allocation "{alloc_id}"')
    require_namespace(request, alloc.namespace, ALLOC_LIFECYCLE)
    node = server.store.node_by_id(alloc.node_id)
    if node is None or not node.http_addr or node.http_addr == agent.config.http_addr:
        raise NotFound(f"no client agent serves allocation {alloc_id[:8]}")
    tls = agent.config.tls
    url = f"{tls.url(node.http_addr)}{request.url.path}"
    async with httpx.AsyncClient(timeout=PROXY_TIMEOUT_S, verify=tls.client_verify()) as client:
        upstream = await client.put(
            url, json=body, params=request.query_params, headers=auth_headers(request)
        )
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )
