"""Operator actions on deployments: promote, fail, pause/resume, set alloc health.

Each validates against the current state, builds the same DeploymentUpdate
the watcher writes, and returns Nomad's DeploymentUpdateResponse shape.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from controlplane.errors import NotFound, ValidationError
from controlplane.raft.messages import AllocHealth, DeploymentUpdate, MsgType
from controlplane.structs import Deployment

from . import deployment_watcher as watcher

if TYPE_CHECKING:
    from .server import Server


def _deployment(server: Server, dep_id: str) -> Deployment:
    dep = server.store.deployment_by_id(dep_id)
    if dep is None:
        raise NotFound("deployment not found")
    return dep


async def _submit(server: Server, update: DeploymentUpdate) -> dict[str, Any]:
    result = await server.raft.submit_async(MsgType.DEPLOYMENT_UPDATE, update)
    ev = update.evals[0] if update.evals else None
    return {
        "EvalID": ev.id if ev else "",
        "EvalCreateIndex": result.index if ev else 0,
        "DeploymentModifyIndex": result.index,
        "RevertedJobVersion": update.revert_job.version if update.revert_job else None,
        "Index": result.index,
    }


async def promote(server: Server, dep_id: str, groups: list[str]) -> dict[str, Any]:
    dep = _deployment(server, dep_id)
    update = server.store.read(lambda s: watcher.promote_update(s, dep, groups, time.time()))
    return await _submit(server, update)


async def fail(server: Server, dep_id: str) -> dict[str, Any]:
    dep = _deployment(server, dep_id)
    if not dep.active():
        raise ValidationError(f"can't fail terminal deployment (status {dep.status})")
    update = server.store.read(
        lambda s: watcher.fail_update(s, dep, watcher.DESC_USER_FAIL, time.time())
    )
    out = await _submit(server, update)
    if update.revert_job is not None:
        job = server.store.job_by_id(dep.namespace, dep.job_id)
        out["RevertedJobVersion"] = job.version if job else None
    return out


async def pause(server: Server, dep_id: str, paused: bool) -> dict[str, Any]:
    dep = _deployment(server, dep_id)
    update = server.store.read(lambda s: watcher.pause_update(s, dep, paused, time.time()))
    return await _submit(server, update)


async def set_alloc_health(
    server: Server, dep_id: str, healthy: list[str], unhealthy: list[str]
) -> dict[str, Any]:
    dep = _deployment(server, dep_id)
    if not dep.active():
        raise ValidationError("can't set health of allocations of a terminal deployment")
    if not healthy and not unhealthy:
        raise ValidationError("must specify at least one healthy/unhealthy allocation ID")
    for alloc_id in [*healthy, *unhealthy]:
        alloc = server.store.alloc_by_id(alloc_id)
        if alloc is None or alloc.deployment_id != dep_id:
            raise ValidationError(f"allocation {alloc_id} is not part of deployment {dep_id}")
    now = time.time()
    job = server.store.job_by_id(dep.namespace, dep.job_id)
    ev = watcher.deployment_eval(dep, job, int(now * 1e9))
    result = await server.raft.submit_async(
        MsgType.ALLOC_HEALTH,
        AllocHealth(
            healthy=healthy, unhealthy=unhealthy, timestamp=watcher.rfc3339(now), evals=[ev]
        ),
    )
    return {
        "EvalID": ev.id,
        "EvalCreateIndex": result.index,
        "DeploymentModifyIndex": result.index,
        "RevertedJobVersion": None,
        "Index": result.index,
    }
