"""Quota routes (Nomad Enterprise's Quota HTTP API, free here).

GET    /v1/quotas?prefix=           quota:read, blocking
GET    /v1/quota/:name              quota:read, blocking; 404 "Quota not found"
PUT    /v1/quota, /v1/quota/:name   upsert one spec (management)
DELETE /v1/quota/:name              refused while a namespace uses it (management)
GET    /v1/quota/usage/:name        QuotaUsage, blocking
GET    /v1/quota-usages?prefix=     every QuotaUsage, blocking

Handlers parse, check the token, call the server, serialise; validation is
the server's (quota_endpoints.py), usage the state's (quota_usage.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import NotFound, ValidationError
from controlplane.jobspec.quota import check_name, quota_from_api
from controlplane.server.quota_endpoints import QUOTA_NOT_FOUND, usage_of
from controlplane.state import StateStore

from .common import (
    acl_of,
    agent_of,
    blocking_query,
    get_ci,
    json_response,
    read_body,
    require,
    server_of,
)
from .openapi import INDEXED, OBJ, PREFIX, STR, Op, array, obj, register

QUOTA_TABLES = ("quotas",)
# usage changes with allocations and with which namespaces use the quota
USAGE_TABLES = ("quotas", "allocs", "namespaces")


def _name(request: Request) -> str:
    name: str = request.path_params.get("name", "")
    check_name(name)
    return name


async def quotas_list(request: Request) -> Response:
    require(acl_of(request).allow_quota_read())
    prefix = request.query_params.get("prefix", "")
    store = server_of(request).store
    return await blocking_query(request, store, QUOTA_TABLES, lambda s: s.quotas(prefix))


async def quota_item(request: Request) -> Response:
    if request.method == "DELETE":
        return await _delete(request)
    if request.method in ("PUT", "POST"):
        return await quota_upsert(request)
    require(acl_of(request).allow_quota_read())
    name = _name(request)
    store = server_of(request).store

    def read(s: StateStore) -> Any:
        spec = s.quota(name)
        if spec is None:
            raise NotFound(QUOTA_NOT_FOUND)
        return spec

    return await blocking_query(request, store, QUOTA_TABLES, read)


async def quota_upsert(request: Request) -> Response:
    require(acl_of(request).is_management())
    path_name = request.path_params.get("name", "")
    if path_name:
        check_name(path_name)
    body = await read_body(request)
    if path_name and not get_ci(body, "Name"):
        body["Name"] = path_name  # `POST /v1/quota/:name` may leave it out
    spec = quota_from_api(body)
    if path_name and spec.name and spec.name != path_name:
        raise ValidationError(f"quota name {spec.name!r} does not match the URL's {path_name!r}")
    index = await server_of(request).upsert_quotas([spec])
    return json_response(request, {"Index": index}, index=index)


async def _delete(request: Request) -> Response:
    require(acl_of(request).is_management())
    name = _name(request)
    index = await server_of(request).delete_quotas([name])
    return json_response(request, {"Index": index}, index=index)


async def quota_usage(request: Request) -> Response:
    require(acl_of(request).allow_quota_read())
    name = _name(request)
    server = server_of(request)
    region = agent_of(request).config.region

    def read(s: StateStore) -> Any:
        spec = s.quota(name)
        if spec is None:
            raise NotFound(QUOTA_NOT_FOUND)
        return usage_of(s, spec, region)

    return await blocking_query(request, server.store, USAGE_TABLES, read)


async def quota_usages(request: Request) -> Response:
    require(acl_of(request).allow_quota_read())
    prefix = request.query_params.get("prefix", "")
    server = server_of(request)
    region = agent_of(request).config.region
    return await blocking_query(
        request,
        server.store,
        USAGE_TABLES,
        lambda s: [usage_of(s, spec, region) for spec in s.quotas(prefix)],
    )


_SPEC = obj(["Name", "Limits"], Name=STR, Description=STR, Limits=array(OBJ))
_USAGE = obj(["Name", "Used"], Name=STR, Used=OBJ)
register(
    Op("get", "/v1/quotas", "List quota specifications", array(_SPEC), (PREFIX,), blocking=True),
    Op("get", "/v1/quota/{name}", "Read a quota specification", _SPEC, blocking=True),
    Op(
        "put",
        "/v1/quota",
        "Create or update a quota specification",
        INDEXED,
        body=obj(["Name"], Name=STR, Description=STR, Limits=array(OBJ)),
    ),
    Op(
        "post",
        "/v1/quota/{name}",
        "Create or update a quota specification",
        INDEXED,
        body=obj(Name=STR, Description=STR, Limits=array(OBJ)),
    ),
    Op("delete", "/v1/quota/{name}", "Delete a quota specification", INDEXED),
    Op("get", "/v1/quota/usage/{name}", "Read a quota's usage", _USAGE, blocking=True),
    Op("get", "/v1/quota-usages", "List quota usages", array(_USAGE), (PREFIX,), blocking=True),
)
