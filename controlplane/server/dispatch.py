"""Dispatch of parameterized jobs: validate the request, derive the child, submit it.

The child is the parent's spec with a new ID (`<parent>/dispatch-...`),
`Dispatched`, the merged meta and the payload (base64, as the job's
`Payload` field carries it on the wire), registered with its evaluation in
one JOB_DISPATCH entry. The idempotency token is checked again by the FSM,
so two concurrent retries still get one child. Messages are Nomad's.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import TYPE_CHECKING, Any

from controlplane.errors import NotFound, ValidationError
from controlplane.raft.messages import JobDispatch, MsgType
from controlplane.structs import Job
from controlplane.structs.periodic import (
    DISPATCH_PAYLOAD_SIZE_LIMIT,
    derive_job,
    dispatched_id,
    is_parameterized_parent,
)

if TYPE_CHECKING:
    from .server import Server


def validate_dispatch(parent: Job, payload: bytes, meta: dict[str, str]) -> None:
    """Nomad's validateDispatchRequest, in its order and words."""
    cfg = parent.parameterized_job
    assert cfg is not None
    if cfg.payload == "required" and not payload:
        raise ValidationError("Payload is not provided but required by parameterized job")
    if cfg.payload == "forbidden" and payload:
        raise ValidationError("Payload provided but forbidden by parameterized job")
    if len(payload) > DISPATCH_PAYLOAD_SIZE_LIMIT:
        raise ValidationError(
            f"Payload exceeds maximum size; {len(payload)} > {DISPATCH_PAYLOAD_SIZE_LIMIT}"
        )
    required = set(cfg.meta_required or ())
    allowed = required | set(cfg.meta_optional or ())
    unpermitted = sorted(k for k in meta if k not in allowed)
    if unpermitted:
        raise ValidationError(
            f"Dispatch request included unpermitted metadata keys: [{' '.join(unpermitted)}]"
        )
    missing = sorted(k for k in required if k not in meta)
    if missing:
        raise ValidationError(f"Dispatch did not provide required meta keys: [{' '.join(missing)}]")


def derive_child(
    parent: Job,
    payload: bytes,
    meta: dict[str, str],
    id_prefix_template: str,
    token: str,
    now_s: int,
) -> Job:
    child_id = dispatched_id(parent.id, id_prefix_template, now_s, uuid.uuid4().hex[:8])
    return derive_job(
        parent,
        child_id,
        dispatched=True,
        dispatch_idempotency_token=token,
        meta={**(parent.meta or {}), **meta} or None,
        payload=base64.b64encode(payload).decode() if payload else None,
    )


async def dispatch_job(
    server: Server,
    namespace: str,
    job_id: str,
    payload: bytes,
    meta: dict[str, str],
    id_prefix_template: str = "",
    token: str = "",
) -> dict[str, Any]:
    from .server import new_eval

    if not job_id:
        raise ValidationError("missing parameterized job ID")
    parent = server.store.job_by_id(namespace, job_id)
    if parent is None:
        raise NotFound("parameterized job not found")
    if not is_parameterized_parent(parent):
        raise ValidationError(f'Specified job "{job_id}" is not a parameterized job')
    if parent.stop:
        raise ValidationError(f'Specified job "{job_id}" is stopped')
    validate_dispatch(parent, payload, meta)
    existing = server.store.dispatched_child_by_token(namespace, job_id, token)
    if existing is not None:
        return _existing(existing)
    now = time.time_ns()
    child = derive_child(parent, payload, meta, id_prefix_template, token, now // 10**9)
    ev = None if child.periodic is not None else new_eval(child, "job-register", now)
    result = await server.raft.submit_async(
        MsgType.JOB_DISPATCH, JobDispatch(job=child, eval=ev, submit_time=now)
    )
    if result.data.get("Existing"):
        found = server.store.job_by_id(namespace, result.data["DispatchedJobID"])
        if found is not None:
            return _existing(found)
    return {
        "DispatchedJobID": child.id,
        "EvalID": ev.id if ev else "",
        "EvalCreateIndex": result.index if ev else 0,
        "JobCreateIndex": result.data.get("JobCreateIndex", result.index),
        "Index": result.index,
    }


def _existing(child: Job) -> dict[str, Any]:
    """A repeated dispatch: the child the token already made (no new eval)."""
    return {
        "DispatchedJobID": child.id,
        "EvalID": "",
        "EvalCreateIndex": 0,
        "JobCreateIndex": child.create_index,
        "Index": child.modify_index,
    }
