"""Validation of the periodic and parameterized blocks and of dispatch payloads.

Checks what Nomad's Job.Validate checks for these kinds, with its wording:
scheduler type, cron specs and time zone, payload requirement, meta key
sets, `dispatch_payload.file` staying inside the task's local dir. Called
from validate.py; never modifies the job.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from controlplane.errors import JobSpecError
from controlplane.structs import Job
from controlplane.structs.cron import CronError, parse, zone

Fail = Callable[..., JobSpecError]

_KIND_TYPES = ("batch", "sysbatch")
PAYLOAD_MODES = ("optional", "required", "forbidden")


def validate_kinds(job: Job, fail: Fail) -> None:
    """Raise `fail(message, path)` for the first problem found."""
    _periodic(job, fail)
    p = job.parameterized_job
    if p is not None:
        if job.type not in _KIND_TYPES:
            raise fail(
                'Parameterized job can only be used with "batch" or "sysbatch" scheduler',
                ("parameterized",),
            )
        if p.payload not in PAYLOAD_MODES:
            raise fail(f'Unknown payload requirement: "{p.payload}"', ("parameterized",))
        both = sorted(set(p.meta_required or ()) & set(p.meta_optional or ()))
        if both:
            raise fail(
                "Required and optional meta keys should be disjoint. Following keys "
                f"exist in both: [{' '.join(both)}]",
                ("parameterized",),
            )
    if job.payload and not job.dispatched:
        raise fail("job can't be submitted with a payload, only dispatched", ())
    for group in job.task_groups:
        for task in group.tasks:
            target = (task.dispatch_payload or {}).get("File") or ""
            if target and payload_path_escapes(target):
                raise fail(
                    "Dispatch Payload validation failed: destination escapes allocation directory",
                    (f"group:{group.name}", f"task:{task.name}", "dispatch_payload"),
                )


def payload_path_escapes(target: str) -> bool:
    """True when `target`, relative to the task's local dir, leaves the task dir."""
    joined = posixpath.normpath(posixpath.join("task/local", target))
    return joined == "task" or not joined.startswith("task/")


def _periodic(job: Job, fail: Fail) -> None:
    p = job.periodic
    if p is None:
        return
    if job.type not in _KIND_TYPES:
        raise fail('Periodic can only be used with "batch" or "sysbatch" scheduler', ("periodic",))
    if not p.enabled:
        return
    if p.spec and p.specs:
        raise fail("Only cron or crons may be used", ("periodic",))
    specs = list(p.specs or ()) or ([p.spec] if p.spec else [])
    if not specs:
        raise fail("Must specify a spec", ("periodic",))
    if p.spec_type != "cron":
        raise fail(f'Unknown periodic specification type "{p.spec_type}"', ("periodic",))
    try:
        zone(p.time_zone)
    except CronError as exc:
        raise fail(f'Invalid time zone "{p.time_zone}": {exc}', ("periodic",)) from None
    for spec in specs:
        try:
            parse(spec)
        except CronError as exc:
            raise fail(f'Invalid cron spec "{spec}": {exc}', ("periodic",)) from None
