"""Namespace routes (API.md §2.11):

    GET      /v1/namespaces               blocking; ?prefix=; only namespaces the token may see
    GET      /v1/namespace/:name          404 "Namespace not found"
    PUT/POST /v1/namespace[/:name]        upsert (management token)
    DELETE   /v1/namespace/:name          (management token)

A token sees a namespace when it holds any capability there (Nomad's
AllowNamespace), checked before the lookup so a hidden namespace is a 403
whether or not it exists. Validation and submission are the server's
(server/namespace_endpoints.py); this module only parses and serialises.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import MethodNotAllowed, NotFound, ValidationError
from controlplane.state.security import T_NAMESPACES
from controlplane.structs import Namespace

from .common import acl_of, blocking_query, get_ci, json_response, read_body, require, server_of
from .openapi import OBJ, PREFIX, STR, Op, array, obj, register

TABLES = (T_NAMESPACES,)
# Nomad's Namespace fields this server stores nothing for: present, as null
_UNSUPPORTED = ("NodePoolConfiguration", "VaultConfiguration", "ConsulConfiguration")


def namespace_json(ns: Namespace) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(ns)
    for key in _UNSUPPORTED:
        data.setdefault(key, None)
    return data


async def namespaces_list(request: Request) -> Response:
    acl = acl_of(request)
    prefix = request.query_params.get("prefix", "")
    return await blocking_query(
        request,
        server_of(request).store,
        TABLES,
        lambda s: [ns for ns in s.namespaces(prefix) if acl.allow_namespace(ns.name)],
        lambda found: [namespace_json(ns) for ns in found],
    )


async def namespace_item(request: Request) -> Response:
    name = request.path_params.get("name", "")
    if request.method == "GET":
        if not name:
            raise MethodNotAllowed()
        require(acl_of(request).allow_namespace(name))
        return await blocking_query(
            request, server_of(request).store, TABLES, lambda s: _found(s.namespace(name))
        )
    require(acl_of(request).is_management())
    if request.method == "DELETE":
        if not name:
            raise ValidationError("Missing namespace name")
        index = await server_of(request).delete_namespaces([name])
        return json_response(request, None, index=index)
    ns = _decode(await read_body(request))
    if name and ns.name != name:
        raise ValidationError("Namespace name does not match request path")
    index = await server_of(request).upsert_namespaces([ns])
    return json_response(request, None, index=index)


def _found(ns: Namespace | None) -> dict[str, Any]:
    if ns is None:
        raise NotFound("Namespace not found")
    return namespace_json(ns)


def _text(body: dict[str, Any], key: str) -> str:
    value = get_ci(body, key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string")
    return value


def _decode(body: dict[str, Any]) -> Namespace:
    """A Namespace from Nomad's JSON (any key casing); 400 on wrong types."""
    meta = get_ci(body, "Meta")
    if meta is not None and (
        not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())
    ):
        raise ValidationError("Meta must be an object of strings")
    caps = get_ci(body, "Capabilities")
    if caps is not None and not isinstance(caps, dict):
        raise ValidationError("Capabilities must be an object")
    if caps:
        for key in ("EnabledTaskDrivers", "DisabledTaskDrivers"):
            drivers = caps.get(key)
            if drivers is not None and (
                not isinstance(drivers, list) or not all(isinstance(d, str) for d in drivers)
            ):
                raise ValidationError(f"Capabilities.{key} must be a list of strings")
    return Namespace(
        name=_text(body, "Name"),
        description=_text(body, "Description"),
        quota=_text(body, "Quota"),
        meta=dict(meta) if meta else None,
        capabilities=dict(caps) if caps else None,
    )


_NAMESPACE = obj(
    ["Name"],
    Name=STR,
    Description=STR,
    Quota=STR,
    Meta={"anyOf": [{"type": "object", "additionalProperties": STR}, {"type": "null"}]},
    Capabilities={"anyOf": [OBJ, {"type": "null"}]},
)
_NAMESPACE_BODY = obj(["Name"], Name=STR, Description=STR, Quota=STR, Meta=OBJ, Capabilities=OBJ)
_NULL = {"type": "null"}
register(
    Op("get", "/v1/namespaces", "List namespaces", array(_NAMESPACE), (PREFIX,), blocking=True),
    Op("get", "/v1/namespace/{name}", "Read a namespace", _NAMESPACE, blocking=True),
    Op("put", "/v1/namespace", "Create or update a namespace", _NULL, body=_NAMESPACE_BODY),
    Op("post", "/v1/namespace/{name}", "Create or update a namespace", _NULL, body=_NAMESPACE_BODY),
    Op("delete", "/v1/namespace/{name}", "Delete a namespace", _NULL),
)
