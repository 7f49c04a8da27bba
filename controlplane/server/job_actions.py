"""Job endpoints beyond register/deregister: plan (dry-run), scale, revert, stable, evaluate.

Plan runs the real scheduler on a private snapshot in which the submitted
job is stored as it would be: nothing is written, ever. The others build a
new job version or an evaluation and submit it like a register.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any

from controlplane import jobdiff, jobspec
from controlplane.errors import Conflict, NotFound, ValidationError
from controlplane.raft.messages import EvalUpsert, JobStable, MsgType
from controlplane.scheduler import schedule
from controlplane.state.store import job_spec
from controlplane.structs import Evaluation, Job, to_builtins

from .namespace_endpoints import check_job_namespace
from .periodic import next_launch_rfc3339
from .services import consul_warnings, format_warnings

if TYPE_CHECKING:
    from .server import Server


def _plan(server: Server, job: Job, want_diff: bool, contextual: bool) -> dict[str, Any]:
    snap = server.store.snapshot()
    existing = snap.job_by_id(job.namespace, job.id)
    index = snap.index + 1
    now = time.time_ns()
    if existing is not None and job_spec(existing) == job_spec(job):
        planned = existing
    else:
        planned = job.replace(
            version=existing.version + 1 if existing else 0,
            create_index=existing.create_index if existing else index,
            modify_index=index,
            job_modify_index=index,
            submit_time=now,
        )
    ev = Evaluation(
        id=str(uuid.uuid4()),
        namespace=job.namespace,
        priority=job.priority,
        type=job.type,
        triggered_by="job-register",
        job_id=job.id,
        job_modify_index=planned.job_modify_index,
        status="pending",
        create_time=now,
        modify_time=now,
    )
    result = schedule(
        snap.with_job(planned),
        ev,
        now_ns=now,
        seed=zlib.crc32(ev.id.encode()),
        new_id=lambda: str(uuid.uuid4()),
    )
    created = list(result.followup_evals)
    if result.failed_tg_allocs:
        created.append(
            ev.replace(
                id=str(uuid.uuid4()),
                status="blocked",
                triggered_by="queued-allocs",
                status_description="created to place remaining allocations",
                failed_tg_allocs=dict(result.failed_tg_allocs),
            )
        )
    diff = None
    if want_diff:
        diff = jobdiff.annotate(
            jobdiff.job_diff(existing, planned, contextual=contextual),
            dict(result.desired_tg_updates),
        )
    return {
        "Annotations": {
            "DesiredTGUpdates": to_builtins(result.desired_tg_updates),
            "PreemptedAllocs": None,
        },
        "FailedTGAllocs": to_builtins(result.failed_tg_allocs) or None,
        "JobModifyIndex": existing.job_modify_index if existing else 0,
        "CreatedEvals": to_builtins(created) or None,
        "Diff": to_builtins(diff) if diff is not None else None,
        "NextPeriodicLaunch": next_launch_rfc3339(job, now / 1e9),
        "Warnings": format_warnings(consul_warnings(job)),
        "Index": snap.index,
    }


async def plan_job(server: Server, job: Job, diff: bool, contextual: bool) -> dict[str, Any]:
    job = jobspec.canonicalize(job)
    jobspec.validate(job)
    check_job_namespace(server.store, job)
    # the scheduler is CPU work: keep the event loop answering meanwhile
    return await asyncio.to_thread(_plan, server, job, diff, contextual)


def _job_or_404(server: Server, namespace: str, job_id: str) -> Job:
    job = server.store.job_by_id(namespace, job_id)
    if job is None:
        raise NotFound("job not found")
    return job


async def scale_job(
    server: Server,
    namespace: str,
    job_id: str,
    group: str,
    count: int | None,
    enforce_index: bool,
    job_modify_index: int,
) -> dict[str, Any]:
    job = _job_or_404(server, namespace, job_id)
    if not group:
        raise ValidationError("missing task group name for scaling action")
    if job.group(group) is None:
        raise ValidationError(f'task group "{group}" specified for scaling does not exist in job')
    if count is None:
        raise ValidationError("scaling action must specify a count")
    if count < 0:
        raise ValidationError("scaling action count can't be negative")
    if job.type in ("system", "sysbatch"):
        raise ValidationError(f"cannot scale jobs of type {job.type!r}")
    latest = server.store.latest_deployment(namespace, job_id)
    if latest is not None and latest.active() and latest.job_version == job.version:
        raise ValidationError("job scaling blocked due to active deployment")
    scaled = job.replace(
        task_groups=[g.replace(count=count) if g.name == group else g for g in job.task_groups]
    )
    return await server.register_job(
        scaled,
        enforce_index=enforce_index,
        job_modify_index=job_modify_index,
        trigger="job-scaling",
    )


def scale_status(server: Server, namespace: str, job_id: str) -> dict[str, Any]:
    job = _job_or_404(server, namespace, job_id)
    allocs = server.store.allocs_by_job(namespace, job_id)
    groups: dict[str, Any] = {}
    for tg in job.task_groups:
        mine = [a for a in allocs if a.task_group == tg.name and a.desired_status == "run"]
        groups[tg.name] = {
            "Desired": tg.count,
            "Placed": len(mine),
            "Running": sum(1 for a in mine if a.client_status == "running"),
            "Healthy": sum(
                1 for a in mine if a.deployment_status and a.deployment_status.healthy is True
            ),
            "Unhealthy": sum(
                1 for a in mine if a.deployment_status and a.deployment_status.healthy is False
            ),
            "Events": None,
        }
    return {
        "JobID": job.id,
        "Namespace": job.namespace,
        "JobCreateIndex": job.create_index,
        "JobModifyIndex": job.job_modify_index,
        "JobStopped": job.stop,
        "TaskGroups": groups,
    }


async def revert_job(
    server: Server, namespace: str, job_id: str, version: int, enforce_prior: int | None
) -> dict[str, Any]:
    job = _job_or_404(server, namespace, job_id)
    if enforce_prior is not None and enforce_prior != job.version:
        raise Conflict(
            f"enforcing version {enforce_prior} failed: current version is {job.version}"
        )
    if version == job.version:
        raise ValidationError(f"can't revert to current version {version}")
    target = server.store.job_version(namespace, job_id, version)
    if target is None:
        raise NotFound(f"job {job_id!r} at version {version} not found")
    return await server.register_job(target.replace(stop=False))


async def set_stable(
    server: Server, namespace: str, job_id: str, version: int, stable: bool
) -> dict[str, Any]:
    _job_or_404(server, namespace, job_id)
    result = await server.raft.submit_async(
        MsgType.JOB_STABLE,
        JobStable(namespace=namespace, job_id=job_id, version=version, stable=stable),
    )
    return {"JobModifyIndex": result.data.get("JobModifyIndex", 0), "Index": result.index}


async def evaluate_job(server: Server, namespace: str, job_id: str) -> dict[str, Any]:
    from .server import new_eval

    job = _job_or_404(server, namespace, job_id)
    if job.periodic is not None or job.parameterized_job is not None:
        raise ValidationError("can't evaluate periodic or parameterized job")
    ev = new_eval(job, "job-register", time.time_ns()).replace(
        job_modify_index=job.job_modify_index
    )
    result = await server.raft.submit_async(MsgType.EVAL_UPSERT, EvalUpsert(evals=[ev]))
    return {
        "EvalID": ev.id,
        "EvalCreateIndex": result.index,
        "JobModifyIndex": job.job_modify_index,
        "Index": result.index,
    }
