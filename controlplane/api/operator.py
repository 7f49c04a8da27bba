"""Operator routes: garbage collection, Raft membership, state snapshots.

PUT    /v1/system/gc
PUT    /v1/agent/join?address=host:port        (Raft address of a new server)
PUT    /v1/agent/force-leave?node=NAME
GET    /v1/operator/raft/configuration
DELETE /v1/operator/raft/peer?address=host:port
GET    /v1/operator/snapshot                   (Digest: sha-256=...)
PUT    /v1/operator/snapshot
"""

from __future__ import annotations

import asyncio
import base64
import hashlib

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import ValidationError
from controlplane.server import membership
from controlplane.server import snapshot as snapshots

from .common import json_response, server_of
from .forward import to_leader


async def system_gc(request: Request) -> Response:
    server = server_of(request)
    await asyncio.to_thread(server.gc.run_once, True)
    return Response(status_code=200)


async def agent_join(request: Request) -> Response:
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    addresses = request.query_params.getlist("address")
    if not addresses:
        raise ValidationError("missing address to join")
    joined, error = await membership.join(server_of(request), addresses)
    return json_response(request, {"num_joined": joined, "error": error})


async def force_leave(request: Request) -> Response:
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    node = request.query_params.get("node", "")
    if not node:
        raise ValidationError("missing node to force leave")
    await membership.force_leave(server_of(request), node)
    return Response(status_code=200)


async def raft_configuration(request: Request) -> Response:
    return json_response(request, membership.configuration(server_of(request)))


async def raft_remove_peer(request: Request) -> Response:
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    address = request.query_params.get("address") or request.query_params.get("id") or ""
    if not address:
        raise ValidationError(
            "Must specify either ?id with the server's ID or ?address with "
            "IP:port of peer to remove"
        )
    await membership.remove_peer(server_of(request), address)
    return Response(status_code=200)


async def snapshot(request: Request) -> Response:
    if request.method == "GET":
        return await snapshot_save(request)
    return await snapshot_restore(request)


async def snapshot_save(request: Request) -> Response:
    data = snapshots.save(server_of(request).store)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return Response(
        data, media_type="application/octet-stream", headers={"Digest": f"sha-256={digest}"}
    )


async def snapshot_restore(request: Request) -> Response:
    body = await request.body()
    if not body:
        raise ValidationError("Request body is empty")
    await snapshots.restore(server_of(request), body)
    return Response(status_code=200)
