"""Routes that launch child jobs: POST /v1/job/:id/dispatch and
/v1/job/:id/periodic/force (API.md §2.1).

Dispatch needs dispatch-job in the request's namespace, a forced periodic
launch submit-job (Nomad's). The idempotency token is read from the
`idempotency_token` query parameter (Nomad's Go client) or the body's
`IdempotencyToken` (python-nomad). Thin: parse, call, serialise.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import DISPATCH_JOB, SUBMIT_JOB
from controlplane.errors import ValidationError
from controlplane.server.dispatch import dispatch_job
from controlplane.server.periodic import force_launch

from .common import get_ci, json_response, namespace_of, read_body, require_namespace, server_of
from .openapi import INT, NS, OBJ, STR, Op, Param, obj, register


async def dispatch(request: Request) -> Response:
    job_id: str = request.path_params["job_id"]
    ns = namespace_of(request)
    require_namespace(request, ns, DISPATCH_JOB)
    body: dict[str, Any] = await read_body(request) if (await request.body()).strip() else {}
    payload = _payload(get_ci(body, "Payload"))
    meta = get_ci(body, "Meta") or {}
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise ValidationError("Meta must be an object of strings")
    template = get_ci(body, "IdPrefixTemplate") or ""
    token = request.query_params.get("idempotency_token") or get_ci(body, "IdempotencyToken") or ""
    if not isinstance(template, str) or not isinstance(token, str):
        raise ValidationError("IdPrefixTemplate and IdempotencyToken must be strings")
    out = await dispatch_job(
        server_of(request), ns, job_id, payload, meta, id_prefix_template=template, token=token
    )
    return json_response(request, out, index=out["Index"])


def _payload(value: Any) -> bytes:
    """The base64 `Payload` ([]byte in Go's JSON) as bytes."""
    if value in (None, ""):
        return b""
    if not isinstance(value, str):
        raise ValidationError("Payload must be base64-encoded")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("Payload must be base64-encoded") from None


async def periodic_force(request: Request) -> Response:
    job_id: str = request.path_params["job_id"]
    ns = namespace_of(request)
    require_namespace(request, ns, SUBMIT_JOB)
    server = server_of(request)
    out = await force_launch(server.raft, server.store, ns, job_id, time.time())
    return json_response(request, out, index=out["Index"])


_DISPATCH_BODY = obj(Payload=STR, Meta=OBJ, IdPrefixTemplate=STR, IdempotencyToken=STR)
_DISPATCHED = obj(
    ["DispatchedJobID", "Index"],
    DispatchedJobID=STR,
    EvalID=STR,
    EvalCreateIndex=INT,
    JobCreateIndex=INT,
    Index=INT,
)
_FORCED = obj(["EvalID", "Index"], EvalID=STR, EvalCreateIndex=INT, Index=INT)
_TOKEN = Param("idempotency_token", description="a repeated dispatch returns the same child")
for _method in ("put", "post"):
    register(
        Op(
            _method,
            "/v1/job/{job_id}/dispatch",
            "Dispatch a parameterized job",
            _DISPATCHED,
            (NS, _TOKEN),
            _DISPATCH_BODY,
            body_required=False,
        ),
        Op(_method, "/v1/job/{job_id}/periodic/force", "Launch a periodic job now", _FORCED, (NS,)),
    )
