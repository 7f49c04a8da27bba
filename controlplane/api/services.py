"""Native service discovery routes (API.md §2.9), all reads blocking queries:

    GET    /v1/services                 per namespace: service names and their tags
    GET    /v1/service/:name            registrations (namespace, per_page, next_token, choose)
    DELETE /v1/service/:name/:id        remove one registration
    GET    /v1/job/:id/services         registrations of a job
    GET    /v1/allocation/:id/services  registrations of an allocation

An unknown service, job or allocation reads as `[]`, as Nomad does. Reads
need read-job and deletes submit-job in the namespace concerned; `/v1/services`
with `?namespace=*` lists only namespaces the token may read. Writes go
through the Server; this module only parses and serialises.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import READ_JOB, SUBMIT_JOB
from controlplane.errors import ValidationError
from controlplane.state import StateStore
from controlplane.structs import ServiceRegistration

from .common import (
    acl_of,
    blocking_query,
    json_response,
    namespace_filter,
    namespace_of,
    query_int,
    require_namespace,
    server_of,
)
from .forward import to_leader

TABLES = ("services",)
CHOOSE_FORMAT = "Parameter for choose must be in form '<number>|<key>'"


async def services_list(request: Request) -> Response:
    ns = namespace_of(request)
    visible = namespace_filter(request, READ_JOB)
    return await blocking_query(
        request,
        server_of(request).store,
        TABLES,
        lambda s: [n for n in s.service_names(ns) if visible(n["Namespace"])],
    )


async def service_read(request: Request) -> Response:
    name = request.path_params["name"]
    ns = namespace_of(request)
    visible = namespace_filter(request, READ_JOB)
    if request.query_params.get("filter"):
        # no go-bexpr evaluator here: refusing beats answering unfiltered
        raise ValidationError("filter expressions are not supported on this endpoint")
    per_page = query_int(request, "per_page")
    if per_page < 0:
        raise ValidationError("per_page must not be negative")
    token = request.query_params.get("next_token", "")
    choose = request.query_params.get("choose", "")
    if choose:
        _parse_choose(choose)  # a malformed parameter is a 400 before any wait
    next_token = [""]

    def read(s: StateStore) -> list[ServiceRegistration]:
        regs = [r for r in s.services_by_name(ns, name) if visible(r.namespace)]
        if per_page:
            regs, next_token[0] = _page(regs, per_page, token)
        if choose:
            regs = choose_services(regs, choose)
        return regs

    resp = await blocking_query(request, server_of(request).store, TABLES, read)
    if next_token[0]:
        resp.headers["X-Nomad-NextToken"] = next_token[0]
    return resp


async def service_delete(request: Request) -> Response:
    require_namespace(request, namespace_of(request), SUBMIT_JOB)
    # `?namespace=*` passes the check above with submit-job in ANY namespace
    # and the server deletes in any namespace for `*`: the registration's own
    # namespace is the one that must allow it
    reg = server_of(request).store.service_by_id(request.path_params["reg_id"])
    if reg is not None:
        require_namespace(request, reg.namespace, SUBMIT_JOB)
    forwarded = await to_leader(request)
    if forwarded is not None:
        return forwarded
    out = await server_of(request).delete_service(
        namespace_of(request), request.path_params["name"], request.path_params["reg_id"]
    )
    return json_response(request, None, index=out["Index"])


async def job_services(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    ns = namespace_of(request)
    require_namespace(request, ns, READ_JOB)
    return await blocking_query(
        request, server_of(request).store, TABLES, lambda s: s.services_by_job(ns, job_id)
    )


async def alloc_services(request: Request) -> Response:
    alloc_id = request.path_params["alloc_id"]
    acl = acl_of(request)

    def read(s: StateStore) -> list[ServiceRegistration]:
        alloc = s.alloc_by_id(alloc_id)
        if alloc is not None:
            require_namespace(request, alloc.namespace, READ_JOB)
        return [
            r
            for r in s.services_by_alloc(alloc_id)
            if acl.allow_namespace_operation(r.namespace, READ_JOB)
        ]

    return await blocking_query(request, server_of(request).store, TABLES, read)


# -- paging and ?choose= -------------------------------------------------------


def _page(
    regs: list[ServiceRegistration], per_page: int, token: str
) -> tuple[list[ServiceRegistration], str]:
    """One page in ID order from `token` on; the next page's first ID, or ""."""
    ordered = [r for r in sorted(regs, key=lambda r: r.id) if r.id >= token]
    rest = ordered[per_page:]
    return ordered[:per_page], rest[0].id if rest else ""


def _parse_choose(param: str) -> tuple[int, str]:
    count, sep, key = param.partition("|")
    try:
        n = int(count)
    except ValueError:
        n = -1
    if not sep or not key or n < 0:
        raise ValidationError(f"failed to choose services: {CHOOSE_FORMAT}")
    return n, key


def choose_services(regs: list[ServiceRegistration], param: str) -> list[ServiceRegistration]:
    """Nomad's `?choose=<n>|<key>`: rendezvous hashing, so a requester (key)
    gets a stable subset of n instances and different keys spread the load."""
    n, key = _parse_choose(param)
    ranked = sorted(regs, key=lambda r: _hash_with(r, key))
    return ranked[:n]


def _hash_with(reg: ServiceRegistration, key: str) -> str:
    # the same bytes, in the same order, as Nomad's ServiceRegistration.HashWith
    h = hashlib.md5(usedforsecurity=False)
    h.update(reg.port.to_bytes(8, "big", signed=False) if reg.port >= 0 else b"\0" * 8)
    for part in (reg.alloc_id, reg.id, reg.namespace, reg.address, reg.service_name, *reg.tags):
        h.update(part.encode())
    h.update(key.encode())
    return h.hexdigest()
