"""Internal routes the client agents call (Nomad uses RPC for these).

    PUT /v1/internal/node/register       {"Node": {...}}          -> {HeartbeatTTL, Index}
    PUT /v1/internal/node/:id/heartbeat  {"Status": "ready"}      -> {HeartbeatTTL, Index}
    PUT /v1/internal/allocs/update       {"Allocs": [update...]}  -> {Index}
    PUT /v1/internal/services            {"Upserts": [ServiceRegistration...],
                                          "DeleteIDs": [id...]}   -> {Index}

A node reads its allocations with the public blocking query
`GET /v1/node/:id/allocations`.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import ValidationError
from controlplane.structs import AllocClientUpdate, Node, ServiceRegistration, from_builtins

from .common import get_ci, json_response, read_body, server_of
from .forward import to_leader


async def node_register(request: Request) -> Response:
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    body = await read_body(request)
    try:
        node = from_builtins(get_ci(body, "Node"), Node)
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid node: {exc}") from None
    out = await server_of(request).node_register(node)
    return json_response(request, out, index=out["Index"])


async def node_heartbeat(request: Request) -> Response:
    # the leader keeps the heartbeat timers
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    body = await read_body(request)
    status = get_ci(body, "Status") or "ready"
    out = await server_of(request).node_heartbeat(request.path_params["node_id"], status)
    return json_response(request, out, index=out["Index"])


async def allocs_update(request: Request) -> Response:
    body = await read_body(request)
    try:
        updates = msgspec.convert(
            get_ci(body, "Allocs") or [], list[AllocClientUpdate], strict=False
        )
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid allocation update: {exc}") from None
    out = await server_of(request).update_allocs(updates)
    return json_response(request, out, index=out["Index"])


async def services_update(request: Request) -> Response:
    # validated against the leader's state, the freshest there is
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    body = await read_body(request)
    try:
        upserts = msgspec.convert(
            get_ci(body, "Upserts") or [], list[ServiceRegistration], strict=False
        )
        delete_ids = msgspec.convert(get_ci(body, "DeleteIDs") or [], list[str])
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid service registration: {exc}") from None
    out = await server_of(request).update_services(upserts, delete_ids)
    return json_response(request, out, index=out["Index"])
