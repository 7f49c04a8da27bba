"""Periodic launches and the IDs of periodic and dispatched child jobs.

`PeriodicLaunch` is the replicated record of a periodic parent's latest
launch (Nomad's `periodic_launch` table): a new leader reads it to neither
launch a scheduled time twice nor skip one. Child IDs follow Nomad:
`<parent>/periodic-<unix>` and `<parent>/dispatch-[<prefix>-]<unix>-<8 hex>`;
`derive_job` makes either child from its parent.
Pure data and string helpers; nothing here reads state.
"""

from __future__ import annotations

from .base import Struct
from .job import Job

PERIODIC_LAUNCH_SUFFIX = "/periodic-"
DISPATCH_LAUNCH_SUFFIX = "/dispatch-"
# Nomad's DispatchPayloadSizeLimit
DISPATCH_PAYLOAD_SIZE_LIMIT = 16 * 1024


class PeriodicLaunch(Struct, frozen=True):
    id: str = ""
    namespace: str = "default"
    # unix nanoseconds of the scheduled (or forced) launch
    launch: int = 0
    create_index: int = 0
    modify_index: int = 0


def periodic_child_id(parent_id: str, launch_s: int) -> str:
    return f"{parent_id}{PERIODIC_LAUNCH_SUFFIX}{launch_s}"


def derive_job(parent: Job, child_id: str, **changes: object) -> Job:
    """Nomad's deriveJob: the parent's spec as a new job `child_id` with
    ParentID set and none of the parent's stored state (status, stability,
    version, indexes); `changes` are the kind's own fields."""
    return parent.replace(
        id=child_id,
        name=child_id,
        parent_id=parent.id,
        status="",
        status_description="",
        stable=False,
        version=0,
        create_index=0,
        modify_index=0,
        job_modify_index=0,
        **changes,
    )


def dispatched_id(parent_id: str, prefix_template: str, now_s: int, uuid8: str) -> str:
    if prefix_template:
        return f"{parent_id}{DISPATCH_LAUNCH_SUFFIX}{prefix_template}-{now_s}-{uuid8}"
    return f"{parent_id}{DISPATCH_LAUNCH_SUFFIX}{now_s}-{uuid8}"


def is_periodic_parent(job: Job) -> bool:
    """Nomad's IsPeriodic: the job has a periodic block (children have none)."""
    return job.periodic is not None


def is_parameterized_parent(job: Job) -> bool:
    """Nomad's IsParameterized: dispatched children keep the block but are not parents."""
    return job.parameterized_job is not None and not job.dispatched


def is_periodic_active(job: Job) -> bool:
    """A parent the dispatcher launches: periodic, enabled, not stopped, not parameterized."""
    p = job.periodic
    return p is not None and p.enabled and not job.stop and not is_parameterized_parent(job)


def periodic_specs(job: Job) -> list[str]:
    p = job.periodic
    if p is None:
        return []
    return list(p.specs) if p.specs else ([p.spec] if p.spec else [])
