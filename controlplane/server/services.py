"""Server side of the native service catalog: checking clients' registration
reports before they reach the log, and the job-registration warning for
`provider = "consul"` services (we have no Consul; the catalog serves them).

Validation is all-or-nothing: a report with one bad registration is refused
whole, so nothing is half-written. Nothing here writes state.
"""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.errors import ValidationError
from controlplane.state import StateStore
from controlplane.structs import Job, ServiceRegistration

CONSUL_WARNING = (
    'Service "{name}" uses provider "consul": nomadtui has no Consul; '
    "it is registered in the built-in catalog"
)


def validate_registrations(
    store: StateStore, upserts: Iterable[ServiceRegistration], delete_ids: Iterable[str]
) -> list[ServiceRegistration]:
    """The registrations to submit, their owner fields filled from the alloc.

    Raises ValidationError (400) naming the first bad registration.
    """
    out = []
    for reg in upserts:
        if not reg.id:
            raise ValidationError("Service registration is missing an ID")
        if not reg.service_name:
            raise ValidationError(f"Service registration {reg.id!r} is missing a ServiceName")
        if not reg.alloc_id:
            raise ValidationError(f"Service registration {reg.id!r} is missing an AllocID")
        alloc = store.alloc_by_id(reg.alloc_id)
        if alloc is None:
            raise ValidationError(
                f"Service registration {reg.id!r} names allocation {reg.alloc_id!r}, "
                "which does not exist"
            )
        for field, given, actual in (
            ("Namespace", reg.namespace, alloc.namespace),
            ("JobID", reg.job_id, alloc.job_id),
            ("NodeID", reg.node_id, alloc.node_id),
        ):
            if given and given != actual:
                raise ValidationError(
                    f"Service registration {reg.id!r}: {field} {given!r} does not match "
                    f"allocation {alloc.id!r} ({actual!r})"
                )
        out.append(
            reg.replace(
                namespace=alloc.namespace,
                job_id=alloc.job_id,
                node_id=alloc.node_id,
                create_index=0,
                modify_index=0,
            )
        )
    if any(not i for i in delete_ids):
        raise ValidationError("Service deregistration with an empty ID")
    return out


def consul_warnings(job: Job) -> list[str]:
    """One warning per distinct service name using the Consul provider (Nomad's
    default), in job order. `job` must be canonicalized (provider filled in)."""
    names: dict[str, None] = {}
    for tg in job.task_groups:
        services = list(tg.services or [])
        for task in tg.tasks:
            services += task.services or []
        for svc in services:
            if svc.provider in ("", "consul"):
                names.setdefault(svc.name, None)
    return [CONSUL_WARNING.format(name=n) for n in names]


def format_warnings(warnings: list[str]) -> str:
    """Nomad's multierror warning text (`N warning(s):` and `* ` lines), "" for none."""
    if not warnings:
        return ""
    return f"{len(warnings)} warning(s):\n" + "".join(f"\n* {w}" for w in warnings)
