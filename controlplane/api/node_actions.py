"""Node and allocation action routes (API.md §2.2, §2.3).

PUT/POST /v1/node/:id/eligibility  {Eligibility: "eligible"|"ineligible", NodeID}
PUT/POST /v1/node/:id/drain        {DrainSpec: {Deadline, IgnoreSystemJobs} | null,
                                    MarkEligible, Meta}
PUT/POST /v1/allocation/:id/stop   ?no_shutdown_delay=
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import ALLOC_LIFECYCLE
from controlplane.errors import ValidationError
from controlplane.server import node_actions as actions

from .common import get_ci, json_response, query_bool, read_body, require_namespace, server_of


async def eligibility(request: Request) -> Response:
    body = await read_body(request)
    value = get_ci(body, "Eligibility")
    if not isinstance(value, str):
        raise ValidationError(f'invalid scheduling eligibility "{value or ""}"')
    out = await actions.update_eligibility(
        server_of(request), request.path_params["node_id"], value
    )
    return json_response(request, out, index=out["Index"])


def _drain_spec(raw: Any) -> actions.DrainSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError("DrainSpec must be an object or null")
    deadline = get_ci(raw, "Deadline", 0)
    if deadline is None:
        deadline = 0
    if isinstance(deadline, bool) or not isinstance(deadline, int):
        raise ValidationError("DrainSpec.Deadline must be an integer of nanoseconds")
    ignore = get_ci(raw, "IgnoreSystemJobs", False)
    if not isinstance(ignore, bool):
        raise ValidationError("DrainSpec.IgnoreSystemJobs must be a boolean")
    return actions.DrainSpec(deadline_ns=deadline, ignore_system_jobs=ignore)


async def drain(request: Request) -> Response:
    # The body is required: the legacy `?enable=true` form gets a 400 here too.
    body = await read_body(request)
    mark = get_ci(body, "MarkEligible", False)
    if not isinstance(mark, bool):
        raise ValidationError("MarkEligible must be a boolean")
    meta = get_ci(body, "Meta")
    if meta is not None and not isinstance(meta, dict):
        raise ValidationError("Meta must be an object")
    out = await actions.update_drain(
        server_of(request),
        request.path_params["node_id"],
        _drain_spec(get_ci(body, "DrainSpec")),
        mark,
        {str(k): str(v) for k, v in meta.items()} if meta else None,
    )
    return json_response(request, out, index=out["Index"])


async def alloc_stop(request: Request) -> Response:
    # alloc-lifecycle in the allocation's namespace (an unknown one: the action's 404)
    alloc = server_of(request).store.alloc_by_id(request.path_params["alloc_id"])
    if alloc is not None:
        require_namespace(request, alloc.namespace, ALLOC_LIFECYCLE)
    out = await actions.stop_alloc(
        server_of(request),
        request.path_params["alloc_id"],
        query_bool(request, "no_shutdown_delay"),
    )
    return json_response(request, out, index=out["Index"])
