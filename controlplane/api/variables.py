"""HTTP handlers for Nomad Variables: /v1/vars and /v1/var/:path.

    GET    /v1/vars?prefix=&namespace=   metadata only, never items (blocking)
    GET    /v1/var/:path                 the variable with its items (blocking)
    PUT    /v1/var/:path[?cas=N]         body {Namespace, Path, Items}; 409 +
                                         the current variable on a CAS conflict
    DELETE /v1/var/:path[?cas=N]         204; 409 as above

Permissions are Nomad's variable path rules (ACL.allow_variable_operation:
read, list, write, destroy). A client node's SecretID may read the
variables of jobs with live allocations on that node (`nomad/jobs/<job>`
and below, and `nomad/jobs` itself): what workload identities grant tasks
in Nomad, so templates (`nomadVar`) work with ACLs on. Handlers parse,
check, call the server (server/variables.py), serialise; no crypto here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import NotFound, PermissionDenied, ValidationError
from controlplane.structs import Node
from controlplane.structs.variables import VariableDecrypted, VariableEncrypted, VariableMetadata

from . import auth
from .common import (
    acl_of,
    blocking_query,
    get_ci,
    json_response,
    namespace_of,
    read_body,
    server_of,
)
from .openapi import NS, STR, Op, Param, array, obj, ref, register

TABLES = ("variables",)
VARIABLE_NOT_FOUND = "variable not found"
JOBS_ROOT = "nomad/jobs"


# -- who may do what -----------------------------------------------------------
def _node_of_secret(request: Request) -> Node | None:
    """The client node whose SecretID this request carries, if any (ACLs on)."""
    state = request.scope.get("state", {})
    secret = state.get("node_secret") or ""
    server = server_of(request)
    if not secret or not server.cfg.acl_enabled:
        return None
    for node in server.store.nodes():
        if node.secret_id and node.secret_id == secret:
            return node
    return None


def _node_jobs(request: Request) -> frozenset[tuple[str, str]] | None:
    """(namespace, job) of live allocations on the requesting node, when the
    request authenticates with a node SecretID; None otherwise. An unknown
    secret is "ACL token not found"."""
    if not request.scope.get("state", {}).get("node_secret"):
        return None
    node = _node_of_secret(request)
    if node is None:
        raise auth.deny(request)
    allocs = server_of(request).store.allocs_by_node(node.id)
    return frozenset((a.namespace, a.job_id) for a in allocs if not a.terminal())


def _job_may_read(jobs: frozenset[tuple[str, str]], namespace: str, path: str) -> bool:
    if path == JOBS_ROOT:
        return any(ns == namespace for ns, _ in jobs)
    for ns, job in jobs:
        own = f"{JOBS_ROOT}/{job}"
        if ns == namespace and (path == own or path.startswith(own + "/")):
            return True
    return False


def _allowed(request: Request, namespace: str, path: str, op: str) -> bool:
    """Whether the request may `op` the variable; an unknown token that is
    no node's SecretID either is "ACL token not found" (raised)."""
    if acl_of(request).allow_variable_operation(namespace, path, op):
        return True
    jobs = _node_jobs(request)
    return jobs is not None and op in ("read", "list") and _job_may_read(jobs, namespace, path)


def _check(request: Request, namespace: str, path: str, op: str) -> None:
    if not _allowed(request, namespace, path, op):
        raise PermissionDenied()


# -- parsing ---------------------------------------------------------------------
def _path(request: Request) -> str:
    path: str = request.path_params.get("path", "")
    if not path:
        raise ValidationError("missing variable path")
    return path


def _cas(request: Request) -> int | None:
    raw = request.query_params.get("cas")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
        if value < 0:
            raise ValueError(raw)
    except ValueError:
        raise ValidationError(f"can not parse cas: {raw!r} is not an unsigned integer") from None
    return value


def _items(body: dict[str, Any]) -> dict[str, str]:
    raw = get_ci(body, "Items")
    if not raw:
        raise ValidationError("variable missing required Items object")
    if not isinstance(raw, dict):
        raise ValidationError("Items must be an object of string values")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise ValidationError(f"Items: the value of {key!r} must be a string")
    return dict(raw)


# -- handlers ------------------------------------------------------------------------
async def vars_list(request: Request) -> Response:
    server = server_of(request)
    namespace = namespace_of(request)
    prefix = request.query_params.get("prefix", "")
    acl = acl_of(request)
    jobs = _node_jobs(request)

    def visible(v: VariableEncrypted) -> bool:
        if acl.allow_variable_operation(v.namespace, v.path, "list"):
            return True
        return jobs is not None and _job_may_read(jobs, v.namespace, v.path)

    def ns_ok(candidate: str) -> bool:
        return namespace == "*" or candidate == namespace

    return await blocking_query(
        request,
        server.store,
        TABLES,
        lambda s: [v.metadata() for v in s.variables(ns_ok, prefix) if visible(v)],
    )


async def var_item(request: Request) -> Response:
    if request.method == "GET":
        return await _read(request)
    if request.method == "DELETE":
        return await _delete(request)
    return await _put(request)


async def _read(request: Request) -> Response:
    server = server_of(request)
    namespace, path = namespace_of(request), _path(request)
    _check(request, namespace, path, "read")
    # fetch key material this server lacks off the event loop, before it
    # is needed under a (synchronous) render
    if server.keyring.missing():
        await asyncio.to_thread(server.keyring.sync)

    def found(var: VariableEncrypted | None) -> VariableDecrypted:
        if var is None:
            raise NotFound(VARIABLE_NOT_FOUND)
        return server.open_variable(var)

    return await blocking_query(
        request, server.store, TABLES, lambda s: s.variable(namespace, path), found
    )


def _write_namespace(request: Request, body: dict[str, Any]) -> str:
    ns = request.query_params.get("namespace") or get_ci(body, "Namespace") or "default"
    if not isinstance(ns, str):
        raise ValidationError("Namespace must be a string")
    return ns


async def _put(request: Request) -> Response:
    server = server_of(request)
    path = _path(request)
    body = await read_body(request)
    namespace = _write_namespace(request, body)
    _check(request, namespace, path, "write")
    items = _items(body)
    out = await server.put_variable(namespace, path, items, _cas(request))
    if out.conflict is not None:
        return await _conflict(request, out.conflict)
    assert out.stored is not None
    return json_response(request, out.stored.decrypted(items), index=out.index)


async def _delete(request: Request) -> Response:
    server = server_of(request)
    namespace, path = namespace_of(request), _path(request)
    _check(request, namespace, path, "destroy")
    out = await server.delete_variable(namespace, path, _cas(request))
    if out.conflict is not None:
        return await _conflict(request, out.conflict)
    return Response(status_code=204, headers={"X-Nomad-Index": str(max(out.index, 1))})


async def _conflict(request: Request, current: VariableEncrypted) -> Response:
    """Nomad's 409: the current variable, with its items only for a caller
    who may read it (an empty variable when none exists)."""
    server = server_of(request)
    items = None
    if current.key_id and _allowed(request, current.namespace, current.path, "read"):
        items = await asyncio.to_thread(server.keyring.decrypt, current)
    return json_response(request, current.decrypted(items), index=current.modify_index, status=409)


_VAR_BODY = obj(
    ["Items"], Namespace=STR, Path=STR, Items={"type": "object", "additionalProperties": STR}
)
_CAS = Param("cas", {"type": "integer", "minimum": 0}, description="check-and-set index")
register(
    Op(
        "get",
        "/v1/vars",
        "List variables (metadata only)",
        array(ref(VariableMetadata)),
        (NS, Param("prefix", description="path prefix")),
        blocking=True,
        tag="variables",
    ),
    Op(
        "get",
        "/v1/var/{path}",
        "Read a variable",
        ref(VariableDecrypted),
        (NS,),
        blocking=True,
        tag="variables",
    ),
    Op(
        "put",
        "/v1/var/{path}",
        "Create or update a variable",
        ref(VariableDecrypted),
        (NS, _CAS),
        body=_VAR_BODY,
        extra=((409, ref(VariableDecrypted)),),
        tag="variables",
    ),
    Op(
        "delete",
        "/v1/var/{path}",
        "Delete a variable",
        None,
        (NS, _CAS),
        ok_status=204,
        extra=((409, ref(VariableDecrypted)),),
        tag="variables",
    ),
    structs=[VariableMetadata, VariableDecrypted],
)
