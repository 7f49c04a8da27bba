"""Deployment action routes (API.md §2.5): the action comes before the ID in the path.

GET      /v1/deployment/allocations/:id
PUT/POST /v1/deployment/promote/:id            {DeploymentID, All | Groups}
PUT/POST /v1/deployment/fail/:id
PUT/POST /v1/deployment/pause/:id              {DeploymentID, Pause}
PUT/POST /v1/deployment/allocation-health/:id  {DeploymentID, HealthyAllocationIDs, ...}

A deployment is loaded first, then the token needs read-job (allocations)
or submit-job (the actions) in the deployment's namespace.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import READ_JOB, SUBMIT_JOB
from controlplane.errors import ValidationError
from controlplane.server import deployment_actions as actions

from .common import (
    acl_of,
    blocking_query,
    get_ci,
    json_response,
    read_body,
    require_namespace,
    server_of,
)
from .stubs import alloc_stub


def _may(request: Request, dep_id: str, capability: str) -> None:
    """403 unless the token has `capability` in the deployment's namespace (an
    unknown deployment is left to the action's own 404)."""
    dep = server_of(request).store.deployment_by_id(dep_id)
    if dep is not None:
        require_namespace(request, dep.namespace, capability)


async def _body_for(request: Request, dep_id: str) -> dict[str, Any]:
    _may(request, dep_id, SUBMIT_JOB)
    body = await read_body(request)
    given = get_ci(body, "DeploymentID")
    if given is not None and given != dep_id:
        raise ValidationError("Deployment ID does not match")
    return body


def _strings(body: dict[str, Any], key: str) -> list[str]:
    """An optional list-of-strings body field; 400 for any other shape."""
    value = get_ci(body, key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{key} must be a list of strings")
    return value


async def allocations(request: Request) -> Response:
    store = server_of(request).store
    dep_id = request.path_params["dep_id"]
    _may(request, dep_id, READ_JOB)
    acl = acl_of(request)
    return await blocking_query(
        request,
        store,
        ("allocs",),
        lambda s: [
            alloc_stub(a)
            for a in s.allocs(None)
            if a.deployment_id == dep_id and acl.allow_namespace_operation(a.namespace, READ_JOB)
        ],
    )


async def promote(request: Request) -> Response:
    dep_id = request.path_params["dep_id"]
    body = await _body_for(request, dep_id)
    groups = [] if get_ci(body, "All", False) else _strings(body, "Groups")
    if not get_ci(body, "All", False) and not groups:
        raise ValidationError("must specify either All or Groups to promote")
    out = await actions.promote(server_of(request), dep_id, groups)
    return json_response(request, out, index=out["Index"])


async def fail(request: Request) -> Response:
    _may(request, request.path_params["dep_id"], SUBMIT_JOB)
    out = await actions.fail(server_of(request), request.path_params["dep_id"])
    return json_response(request, out, index=out["Index"])


async def pause(request: Request) -> Response:
    dep_id = request.path_params["dep_id"]
    body = await _body_for(request, dep_id)
    out = await actions.pause(server_of(request), dep_id, bool(get_ci(body, "Pause", False)))
    return json_response(request, out, index=out["Index"])


async def allocation_health(request: Request) -> Response:
    dep_id = request.path_params["dep_id"]
    body = await _body_for(request, dep_id)
    out = await actions.set_alloc_health(
        server_of(request),
        dep_id,
        _strings(body, "HealthyAllocationIDs"),
        _strings(body, "UnhealthyAllocationIDs"),
    )
    return json_response(request, out, index=out["Index"])
