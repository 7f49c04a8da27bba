"""Deployment action routes (API.md §2.5): the action comes before the ID in the path.

GET      /v1/deployment/allocations/:id
PUT/POST /v1/deployment/promote/:id            {DeploymentID, All | Groups}
PUT/POST /v1/deployment/fail/:id
PUT/POST /v1/deployment/pause/:id              {DeploymentID, Pause}
PUT/POST /v1/deployment/allocation-health/:id  {DeploymentID, HealthyAllocationIDs, ...}
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import ValidationError
from controlplane.server import deployment_actions as actions

from .common import blocking_query, get_ci, json_response, read_body, server_of
from .stubs import alloc_stub


async def _body_for(request: Request, dep_id: str) -> dict[str, Any]:
    body = await read_body(request)
    given = get_ci(body, "DeploymentID")
    if given is not None and given != dep_id:
        raise ValidationError("Deployment ID does not match")
    return body


async def allocations(request: Request) -> Response:
    store = server_of(request).store
    dep_id = request.path_params["dep_id"]
    return await blocking_query(
        request,
        store,
        ("allocs",),
        lambda s: [alloc_stub(a) for a in s.allocs(None) if a.deployment_id == dep_id],
    )


async def promote(request: Request) -> Response:
    dep_id = request.path_params["dep_id"]
    body = await _body_for(request, dep_id)
    groups = [] if get_ci(body, "All", False) else list(get_ci(body, "Groups") or [])
    if not get_ci(body, "All", False) and not groups:
        raise ValidationError("must specify either All or Groups to promote")
    out = await actions.promote(server_of(request), dep_id, groups)
    return json_response(request, out, index=out["Index"])


async def fail(request: Request) -> Response:
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
        list(get_ci(body, "HealthyAllocationIDs") or []),
        list(get_ci(body, "UnhealthyAllocationIDs") or []),
    )
    return json_response(request, out, index=out["Index"])
