"""What the generic reconciler decides: stops, placements, in-place updates,
per-group counts (Nomad's DesiredTGUpdates), deployment changes and
follow-up evaluations. Plain data; reconcile.py fills it, generic.py acts
on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum

from controlplane.structs import (
    Allocation,
    Deployment,
    DeploymentStatusUpdate,
    DesiredUpdates,
    Evaluation,
    Job,
    TaskGroup,
)


class UpdateKind(Enum):
    IGNORE = "ignore"
    IN_PLACE = "in-place"
    DESTRUCTIVE = "destructive"


# (existing alloc, new job, new group) -> how to bring the alloc up to date.
UpdateFn = Callable[[Allocation, Job, TaskGroup], UpdateKind]


@dataclass(frozen=True)
class StopAlloc:
    alloc: Allocation
    description: str
    client_status: str = ""


@dataclass(frozen=True)
class PlaceAlloc:
    group: TaskGroup
    name: str
    previous: Allocation | None = None
    # A failed predecessor: replaced under the reschedule policy (its node
    # gets a score penalty, the new alloc a RescheduleTracker event).
    reschedule: bool = False
    reschedule_delay_ns: int = 0
    # Stop `previous` with this description, but only if the replacement is
    # placed (destructive updates and migrations never leave a hole).
    stop_previous: str = ""
    canary: bool = False


@dataclass
class GroupUpdates:
    """Per-group counts, as Nomad's plan annotations report them."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0
    canary: int = 0

    def freeze(self) -> DesiredUpdates:
        return DesiredUpdates(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass
class ReconcileResult:
    stop: list[StopAlloc] = field(default_factory=list)
    place: list[PlaceAlloc] = field(default_factory=list)
    in_place: list[tuple[Allocation, TaskGroup]] = field(default_factory=list)
    desired: dict[str, GroupUpdates] = field(default_factory=dict)
    # The deployment this plan creates, and status changes to older ones.
    deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    # group -> the deployment its new and in-place updated allocs join ("" none)
    deployment_ids: dict[str, str] = field(default_factory=dict)
    # delayed reschedules: the evaluations, and the failed allocs pointing at them
    followup_evals: list[Evaluation] = field(default_factory=list)
    annotated: list[Allocation] = field(default_factory=list)

    def updates_for(self, group: str) -> GroupUpdates:
        return self.desired.setdefault(group, GroupUpdates())
