"""Internal routes the client agents call (Nomad uses RPC for these).

    PUT /v1/internal/node/register       {"Node": {...}}          -> {HeartbeatTTL, Index}
    PUT /v1/internal/node/:id/heartbeat  {"Status": "ready"}      -> {HeartbeatTTL, Index}
    PUT /v1/internal/allocs/update       {"Allocs": [update...]}  -> {Index}
    PUT /v1/internal/services            {"Upserts": [ServiceRegistration...],
                                          "DeleteIDs": [id...]}   -> {Index}

A node reads its allocations with the public blocking query
`GET /v1/node/:id/allocations`.

With ACLs on, each route needs node:write or the SecretID of the node it
acts for (the client agent sends its node SecretID as its token): a node's
heartbeat, updates of allocations placed on it, service registrations of
its allocations. Registering needs the SecretID the node registers with,
and a node ID already known must keep its SecretID (Nomad's rule). The
checks run where the request is handled (the leader for forwarded ones).
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import PermissionDenied, ValidationError
from controlplane.structs import AllocClientUpdate, Node, ServiceRegistration, from_builtins

from .auth import deny, own_node_secret
from .common import acl_of, get_ci, json_response, read_body, server_of
from .forward import to_leader


def _require_nodes(request: Request, node_ids: set[str]) -> None:
    """node:write, or the SecretID of every node in `node_ids` (of some node
    when the request names none the server knows, e.g. GC'd allocations)."""
    if acl_of(request).allow_node_write():
        return
    if node_ids:
        if not all(own_node_secret(request, n) for n in node_ids):
            raise deny(request)
        return
    secret = request.scope.get("state", {}).get("acl_secret", "")
    nodes = server_of(request).store.nodes()
    if not secret or not any(n.secret_id == secret for n in nodes):
        raise deny(request)


def _check_register(request: Request, node: Node) -> None:
    server = server_of(request)
    if not server.cfg.acl_enabled:
        return
    if not node.secret_id:
        raise ValidationError("missing node secret ID for client registration")
    existing = server.store.node_by_id(node.id)
    if existing is not None and existing.secret_id != node.secret_id:
        raise PermissionDenied("node secret ID does not match. Not registering node.")
    secret = request.scope.get("state", {}).get("acl_secret", "")
    if not acl_of(request).allow_node_write() and secret != node.secret_id:
        raise deny(request)


async def node_register(request: Request) -> Response:
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    body = await read_body(request)
    try:
        node = from_builtins(get_ci(body, "Node"), Node)
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid node: {exc}") from None
    _check_register(request, node)
    out = await server_of(request).node_register(node)
    return json_response(request, out, index=out["Index"])


async def node_heartbeat(request: Request) -> Response:
    # the leader keeps the heartbeat timers
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    _require_nodes(request, {request.path_params["node_id"]})
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
    if not acl_of(request).allow_node_write():  # else no need to look the allocations up
        store = server_of(request).store
        allocs = [store.alloc_by_id(u.id) for u in updates]
        _require_nodes(request, {a.node_id for a in allocs if a is not None})
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
    store = server_of(request).store
    nodes = {r.node_id for r in upserts}
    for reg_id in delete_ids:
        reg = store.service_by_id(reg_id)
        if reg is not None:
            nodes.add(reg.node_id)
    _require_nodes(request, nodes)
    out = await server_of(request).update_services(upserts, delete_ids)
    return json_response(request, out, index=out["Index"])
