"""Job routes: /v1/jobs, /v1/jobs/parse and /v1/job/:id[/suffix] (API.md §2.1).

Job IDs may contain `/`, so `/v1/job/...` dispatches on the path suffix.
Every route checks the token's capability in the job's namespace before it
looks anything up (Nomad's order), so a denied job is never found or missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane import jobdiff, jobspec
from controlplane.acl import LIST_JOBS, PARSE_JOB, READ_JOB, SUBMIT_JOB
from controlplane.errors import MethodNotAllowed, NotFound, ValidationError
from controlplane.jobspec.defaults import with_namespace
from controlplane.server.namespace_endpoints import check_job_namespace
from controlplane.state import StateStore
from controlplane.structs import Job, JobListStub, to_builtins

from .common import (
    acl_of,
    blocking_query,
    get_ci,
    json_response,
    namespace_filter,
    namespace_of,
    query_bool,
    read_body,
    require,
    require_namespace,
    server_of,
)
from .job_actions import WRITE_SUFFIXES, int_field, job_action
from .stubs import alloc_stub_cache, job_stub_cache

_SUFFIXES = ("allocations", "evaluations", "summary", "deployment", "deployments", "versions")


async def jobs_list(request: Request) -> Response:
    server = server_of(request)
    if request.method in ("PUT", "POST"):
        return await _register(request, None)
    ns = namespace_of(request)
    visible = namespace_filter(request, LIST_JOBS)
    prefix = request.query_params.get("prefix", "")

    cache = job_stub_cache(server.store)

    def stubs(s: StateStore) -> list[JobListStub]:
        out = [cache.stub(s, j) for j in s.jobs(ns, prefix) if visible(j.namespace)]
        cache.prune(s.job_count(), lambda key: s.job_by_id(*key) is not None)
        return out

    return await blocking_query(request, server.store, ("jobs", "allocs", "evals"), stubs)


async def jobs_parse(request: Request) -> Response:
    ns, acl = namespace_of(request), acl_of(request)
    require(
        acl.allow_namespace_operation(ns, PARSE_JOB)
        or acl.allow_namespace_operation(ns, SUBMIT_JOB)
    )
    body = await read_body(request)
    text = get_ci(body, "JobHCL")
    if not text:
        raise ValidationError("Job spec is empty")
    if not isinstance(text, str):
        raise ValidationError("JobHCL must be a string")
    canonical = bool(get_ci(body, "Canonicalize", False))

    def parse() -> Any:
        if canonical:
            return to_builtins(jobspec.parse_job(text, "<input>"))
        return jobspec.parse_job_api(text, "<input>")

    try:
        # HCL parses at ~70 KiB/s: a large file must not stall the event loop
        data = await asyncio.to_thread(parse)
    except ValidationError as exc:
        raise ValidationError(f"Failed to parse job: {exc}") from None
    return json_response(request, data)


def decode_job(data: Any) -> Job:
    """An API-shaped job (any key casing) taken from a read_body body ->
    canonical Job; 400 on bad types. read_body bounded the whole body's
    nesting, so the job's is not checked again."""
    if not isinstance(data, dict):
        raise ValidationError("Job must be specified")
    return jobspec.job_from_api(data, depth_checked=True)


async def _register(request: Request, path_id: str | None) -> Response:
    server = server_of(request)
    body = await read_body(request)
    raw_job = get_ci(body, "Job")
    if raw_job is None:
        raise ValidationError("Job must be specified")
    job = decode_job(raw_job)
    if not job.id:
        raise ValidationError("Job ID hasn't been provided")
    if path_id is not None and job.id != path_id:
        raise ValidationError("Job ID does not match name")
    # Nomad's namespaceForJob: ?namespace=, then the request's Namespace, then the job's
    ns = request.query_params.get("namespace") or get_ci(body, "Namespace") or job.namespace
    job = with_namespace(job, ns or "default")
    require_namespace(request, job.namespace, SUBMIT_JOB)
    check_job_namespace(server.store, job)
    out = await server.register_job(
        job,
        enforce_index=bool(get_ci(body, "EnforceIndex", False)),
        job_modify_index=int_field(body, "JobModifyIndex"),
    )
    return json_response(request, out, index=out["Index"])


async def job_item(request: Request) -> Response:
    server = server_of(request)
    path: str = request.path_params["rest"]
    ns = namespace_of(request)
    job_id, _, suffix = path.rpartition("/")
    if suffix not in _SUFFIXES + WRITE_SUFFIXES or not job_id:
        job_id, suffix = path, ""
    if suffix in WRITE_SUFFIXES:
        return await job_action(request, job_id, ns, suffix)
    store = server.store
    if suffix == "":
        if request.method == "GET":
            require_namespace(request, ns, READ_JOB)
            return await blocking_query(
                request, store, ("jobs", "allocs", "evals"), lambda s: _job_or_404(s, ns, job_id)
            )
        if request.method in ("PUT", "POST"):
            return await _register(request, job_id)
        if request.method == "DELETE":
            require_namespace(request, ns, SUBMIT_JOB)
            out = await server.deregister_job(ns, job_id, purge=query_bool(request, "purge"))
            return json_response(request, out, index=out["Index"])
        raise MethodNotAllowed()
    if request.method != "GET":
        raise MethodNotAllowed()
    require_namespace(request, ns, READ_JOB)
    if suffix == "allocations":
        return await blocking_query(
            request,
            store,
            ("allocs",),
            lambda s: s.allocs_by_job(ns, job_id),
            alloc_stub_cache(store).stubs,
        )
    if suffix == "evaluations":
        return await blocking_query(
            request, store, ("evals",), lambda s: s.evals_by_job(ns, job_id)
        )
    if suffix == "summary":
        return await blocking_query(
            request,
            store,
            ("jobs", "allocs", "evals"),
            lambda s: _or_404(s.job_summary(ns, job_id), "job not found"),
        )
    if suffix == "deployment":
        return await blocking_query(
            request, store, ("deployments",), lambda s: s.latest_deployment(ns, job_id)
        )
    if suffix == "deployments":
        return await blocking_query(
            request,
            store,
            ("deployments",),
            lambda s: sorted(s.deployments_by_job(ns, job_id), key=lambda d: -d.create_index),
        )
    # versions
    diffs = query_bool(request, "diffs")
    return await blocking_query(
        request, store, ("jobs",), lambda s: _versions(s, ns, job_id, diffs)
    )


def _versions(s: StateStore, ns: str, job_id: str, diffs: bool) -> dict[str, Any]:
    versions = _or_404(s.job_versions(ns, job_id) or None, "job versions not found")
    return {
        "Versions": versions,
        "Diffs": jobdiff.diff_versions(versions) if diffs else None,
    }


def _job_or_404(s: StateStore, ns: str, job_id: str) -> Job:
    job = s.job_by_id(ns, job_id)
    if job is None:
        raise NotFound("job not found")
    return s.job_with_status(job)


def _or_404(value: Any, message: str) -> Any:
    if value is None:
        raise NotFound(message)
    return value
