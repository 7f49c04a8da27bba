"""Task logs: /v1/client/fs/logs/:alloc_id (API.md §2.7).

Served from this agent's client when the allocation runs here; otherwise
proxied to the agent of the node that runs it (its HTTPAddr). Reads across
rotated log files (client/logs.py: origin and offset count across files, as
Nomad's). Frames are Nomad's StreamFrame JSON objects, concatenated, each
naming the file its bytes came from, with `{}` heartbeats while following an
idle file; `plain=true` streams raw bytes. The token needs read-logs in
the allocation's namespace, checked on whichever agent answers (a proxied
request carries the caller's token on).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from controlplane.acl import READ_LOGS
from controlplane.client.logs import (
    HEARTBEAT_FRAME,
    Origin,
    TaskLogReader,
    frame,
    safe_task_name,
)
from controlplane.errors import NotFound, ValidationError
from controlplane.structs import Allocation

from .common import agent_of, auth_headers, query_bool, query_int, require_namespace

CHUNK = 64 * 1024
POLL_S = 0.2
HEARTBEAT_S = 1.0
LOGS_REL = "alloc/logs"  # StreamFrame.File is relative to the allocation dir


async def logs(request: Request) -> Response:
    agent = agent_of(request)
    alloc_id = request.path_params["alloc_id"]
    task = request.query_params.get("task", "")
    if not task:
        raise ValidationError("must provide task name")
    if not safe_task_name(task):  # a path from the URL never reaches the filesystem
        raise ValidationError(f"invalid task name {task!r}")
    log_type = request.query_params.get("type", "")
    if log_type not in ("stdout", "stderr"):
        raise ValidationError("must provide log type (stdout/stderr)")
    origin = request.query_params.get("origin", "start") or "start"
    if origin not in ("start", "end"):
        raise ValidationError('origin must be "start" or "end"')
    follow = query_bool(request, "follow")
    plain = query_bool(request, "plain")
    offset = query_int(request, "offset")

    client = agent.client
    runner = client.runner(alloc_id) if client is not None else None
    if client is not None and runner is not None:
        require_namespace(request, runner.alloc.namespace, READ_LOGS)
        _check_task(runner.alloc, task)
        log_origin: Origin = "end" if origin == "end" else "start"
        reader = TaskLogReader(
            client.task_logs_dir(alloc_id), task, log_type, log_origin, offset, follow, CHUNK
        )
        media = "text/plain" if plain else "application/json"
        return StreamingResponse(_stream(reader, plain), media_type=media)

    server = agent.server
    alloc = server.store.alloc_by_id(alloc_id) if server is not None else None
    if alloc is None:
        raise NotFound("alloc not found")
    require_namespace(request, alloc.namespace, READ_LOGS)
    node = server.store.node_by_id(alloc.node_id) if server is not None else None
    if node is None or not node.http_addr or node.http_addr == agent.config.http_addr:
        raise NotFound(f"no client agent serves allocation {alloc_id[:8]}")
    return await _proxy(request, node.http_addr)


def _check_task(alloc: Allocation, task: str) -> None:
    group = alloc.job.group(alloc.task_group) if alloc.job is not None else None
    if group is not None and all(t.name != task for t in group.tasks):
        raise NotFound(f'task group "{alloc.task_group}" does not have task with name "{task}"')


async def _stream(reader: TaskLogReader, plain: bool) -> AsyncIterator[bytes]:
    idle = 0.0
    while True:
        chunk = reader.read()
        if chunk is not None:
            idle = 0.0
            yield (
                chunk.data if plain else frame(chunk.data, chunk.offset, f"{LOGS_REL}/{chunk.file}")
            )
            continue
        if reader.finished:
            return
        await asyncio.sleep(POLL_S)
        idle += POLL_S
        if idle >= HEARTBEAT_S and not plain:
            idle = 0.0
            yield HEARTBEAT_FRAME


async def _proxy(request: Request, http_addr: str) -> Response:
    tls = agent_of(request).config.tls
    url = f"{tls.url(http_addr)}{request.url.path}"
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), verify=tls.client_verify())
    upstream = await client.send(
        client.build_request(
            "GET", url, params=request.query_params, headers=auth_headers(request)
        ),
        stream=True,
    )

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()
            await client.aclose()

    return StreamingResponse(
        body(),
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )
