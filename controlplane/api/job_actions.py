"""Job action routes: /v1/job/:id/{plan,scale,revert,stable,evaluate} (API.md §2.1).

Capabilities are checked in the request's namespace before the job is read:
reading the scale status needs read-job-scaling, scaling scale-job (or
submit-job, as Nomad), everything else submit-job.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import READ_JOB, READ_JOB_SCALING, SCALE_JOB, SUBMIT_JOB
from controlplane.errors import MethodNotAllowed, ValidationError
from controlplane.server import job_actions

from .common import acl_of, get_ci, json_response, read_body, require, server_of

WRITE_SUFFIXES = ("plan", "scale", "revert", "stable", "evaluate")


def int_field(body: dict[str, Any], key: str) -> int:
    """An optional integer body field (0 when absent or null); 400 for any other type."""
    value = get_ci(body, key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{key} must be an integer")
    return value


async def job_action(request: Request, job_id: str, ns: str, suffix: str) -> Response:
    server = server_of(request)
    acl = acl_of(request)
    if suffix == "scale" and request.method == "GET":
        require(
            acl.allow_namespace_operation(ns, READ_JOB_SCALING)
            or acl.allow_namespace_operation(ns, READ_JOB)
        )
        return json_response(
            request,
            server.store.read(lambda s: job_actions.scale_status(server, ns, job_id)),
            index=server.store.table_index("jobs", "allocs"),
        )
    if request.method not in ("PUT", "POST"):
        raise MethodNotAllowed()
    if suffix == "scale":
        require(
            acl.allow_namespace_operation(ns, SCALE_JOB)
            or acl.allow_namespace_operation(ns, SUBMIT_JOB)
        )
    elif suffix != "plan":  # a plan is checked in the namespace its job names
        require(acl.allow_namespace_operation(ns, SUBMIT_JOB))
    if suffix == "evaluate":
        out = await job_actions.evaluate_job(server, ns, job_id)
        return json_response(request, out, index=out["Index"])
    body = await read_body(request)
    if suffix == "plan":
        from .jobs import decode_job

        job = decode_job(get_ci(body, "Job"))
        if job.id != job_id:
            raise ValidationError("Job ID does not match")
        job = job.replace(namespace=request.query_params.get("namespace") or job.namespace)
        require(acl.allow_namespace_operation(job.namespace, SUBMIT_JOB))
        # Nomad's server always diffs plans contextually (unchanged fields as None)
        out = await job_actions.plan_job(
            server, job, bool(get_ci(body, "Diff", False)), contextual=True
        )
        return json_response(request, out, index=out["Index"])
    if suffix == "scale":
        target = get_ci(body, "Target") or {}
        if not isinstance(target, dict):
            raise ValidationError("Target must be an object")
        count = get_ci(body, "Count")
        if count is not None and not isinstance(count, int):
            raise ValidationError("Count must be an integer")
        group = get_ci(target, "Group") or ""
        current = server.store.job_by_id(ns, job_id)
        if not group and current is not None and len(current.task_groups) == 1:
            group = current.task_groups[0].name
        out = await job_actions.scale_job(
            server,
            ns,
            job_id,
            group,
            count,
            enforce_index=bool(get_ci(body, "EnforceIndex", False)),
            job_modify_index=int_field(body, "JobModifyIndex"),
        )
        return json_response(request, out, index=out["Index"])
    if get_ci(body, "JobID") != job_id:
        raise ValidationError("Job ID does not match")
    version = get_ci(body, "JobVersion")
    if not isinstance(version, int):
        raise ValidationError("JobVersion must be specified")
    if suffix == "revert":
        prior = get_ci(body, "EnforcePriorVersion")
        out = await job_actions.revert_job(server, ns, job_id, version, prior)
    else:  # stable
        out = await job_actions.set_stable(
            server, ns, job_id, version, bool(get_ci(body, "Stable", False))
        )
    return json_response(request, out, index=out["Index"])
