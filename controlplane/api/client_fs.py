"""Task logs: /v1/client/fs/logs/:alloc_id (API.md §2.7).

Served from this agent's client when the allocation runs here; otherwise
proxied to the agent of the node that runs it (its HTTPAddr). Frames are
Nomad's StreamFrame JSON objects, concatenated, with `{}` heartbeats while
following an idle file; `plain=true` streams raw bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from controlplane.client.logs import HEARTBEAT_FRAME, frame, start_offset
from controlplane.errors import NotFound, ValidationError

from .common import agent_of, query_bool, query_int

CHUNK = 64 * 1024
POLL_S = 0.2
HEARTBEAT_S = 1.0


async def logs(request: Request) -> Response:
    agent = agent_of(request)
    alloc_id = request.path_params["alloc_id"]
    task = request.query_params.get("task", "")
    if not task:
        raise ValidationError("must provide task name")
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
    if client is not None and client.runner(alloc_id) is not None:
        path = client.task_log_path(alloc_id, task, log_type)
        rel = f"alloc/logs/{path.name}"
        start = _start_offset(path, origin, offset)
        media = "text/plain" if plain else "application/json"
        return StreamingResponse(_stream(path, rel, start, follow, plain), media_type=media)

    server = agent.server
    alloc = server.store.alloc_by_id(alloc_id) if server is not None else None
    if alloc is None:
        raise NotFound("alloc not found")
    node = server.store.node_by_id(alloc.node_id) if server is not None else None
    if node is None or not node.http_addr or node.http_addr == agent.config.http_addr:
        raise NotFound(f"no client agent serves allocation {alloc_id[:8]}")
    return await _proxy(request, node.http_addr)


def _start_offset(path: Path, origin: str, offset: int) -> int:
    size = path.stat().st_size if path.exists() else 0
    return start_offset(size, "end" if origin == "end" else "start", offset)


async def _stream(
    path: Path, rel: str, offset: int, follow: bool, plain: bool
) -> AsyncIterator[bytes]:
    idle = 0.0
    while True:
        data = b""
        if path.exists():
            if path.stat().st_size < offset:  # truncated
                offset = 0
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(CHUNK)
        if data:
            idle = 0.0
            offset += len(data)
            yield data if plain else frame(data, offset, rel)
            continue
        if not follow:
            return
        await asyncio.sleep(POLL_S)
        idle += POLL_S
        if idle >= HEARTBEAT_S and not plain:
            idle = 0.0
            yield HEARTBEAT_FRAME


async def _proxy(request: Request, http_addr: str) -> Response:
    url = f"http://{http_addr}{request.url.path}"
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
    upstream = await client.send(
        client.build_request("GET", url, params=request.query_params), stream=True
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
