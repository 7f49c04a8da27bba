"""HTTP handlers for the root keyring.

    GET    /v1/operator/keyring/keys          root key metadata (blocking)
    PUT    /v1/operator/keyring/rotate[?full=true]   new active key; full:
                                              re-seal every variable with it
    DELETE /v1/operator/keyring/key/:id       refused for the active key and
                                              for a key still sealing variables
    GET    /v1/internal/keyring/:id           key material, server to server

The operator routes are guarded with a management token in app.py. The
internal route authenticates servers as server/keyring.py's docstring says
(HMAC under the Raft `encrypt` key, else Raft peer hosts only), or a
management token when ACLs are enabled. Never logs key material.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import NotFound, PermissionDenied
from controlplane.structs.variables import RootKeyMeta

from . import forward
from .common import acl_of, blocking_query, json_response, query_bool, server_of
from .openapi import INDEXED, Op, Param, array, obj, ref, register

TABLES = ("root_keys",)


async def keys_list(request: Request) -> Response:
    server = server_of(request)
    return await blocking_query(request, server.store, TABLES, lambda s: s.root_keys())


async def rotate(request: Request) -> Response:
    full = query_bool(request, "full")
    # the leader makes keys: it is where every peer looks for one first
    upstream = await forward.to_leader(request)
    if upstream is not None:
        return upstream
    key = await server_of(request).keyring.rotate(full)
    return json_response(request, {"Key": key}, index=key.modify_index)


async def key_delete(request: Request) -> Response:
    server = server_of(request)
    await server.keyring.remove(request.path_params["key_id"])
    return json_response(request, {"Index": server.store.index}, index=server.store.index)


async def internal_key(request: Request) -> Response:
    server = server_of(request)
    key_id: str = request.path_params["key_id"]
    management = server.cfg.acl_enabled and acl_of(request).is_management()
    peer = request.client.host if request.client is not None else ""
    allowed = management or server.keyring.authorize(
        key_id,
        request.headers.get("x-nomad-keyring-time", ""),
        request.headers.get("x-nomad-keyring-auth", ""),
        peer,
        time.time(),
    )
    if not allowed:
        raise PermissionDenied()
    found = server.keyring.export(key_id)
    if found is None:
        raise NotFound("root key not found")
    return json_response(request, found)


register(
    Op(
        "get",
        "/v1/operator/keyring/keys",
        "List root keys (metadata only)",
        array(ref(RootKeyMeta)),
        blocking=True,
        tag="keyring",
    ),
    Op(
        "put",
        "/v1/operator/keyring/rotate",
        "Rotate the root key",
        obj(["Key"], Key=ref(RootKeyMeta)),
        (Param("full", {"type": "boolean"}, description="re-encrypt every variable"),),
        fuzz=False,
        tag="keyring",
    ),
    Op(
        "delete",
        "/v1/operator/keyring/key/{key_id}",
        "Remove an inactive root key",
        INDEXED,
        fuzz=False,
        tag="keyring",
    ),
    structs=[RootKeyMeta],
)
