"""The reconciler's view of deployments: which one is current, when to create
one, which to cancel, and how far a rolling update may go in one evaluation.

Never counts placed or healthy allocs (the state store keeps those counters),
never promotes, pauses or fails a deployment (the deployment watcher does);
the only status change made here is cancelling a deployment the job has
outgrown. Lifecycle, as far as the scheduler is concerned:

    (none) --first placement / spec update--> running
    running --newer job version--> cancelled   ("Cancelled due to newer version of job")
    running --job stopped--------> cancelled   ("Cancelled because job is stopped")
    running <--> paused, -> failed / successful: the watcher's business
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from controlplane.structs import (
    Allocation,
    Deployment,
    DeploymentState,
    DeploymentStatusUpdate,
    Job,
    TaskGroup,
    UpdateStrategy,
)
from controlplane.structs.consts import DeploymentStatus, JobType

RUNNING = "Deployment is running"
RUNNING_NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
RUNNING_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
CANCELLED_NEWER_JOB = "Cancelled due to newer version of job"
CANCELLED_JOB_STOPPED = "Cancelled because job is stopped"


def update_strategy(job: Job, tg: TaskGroup) -> UpdateStrategy | None:
    """The group's rolling-update strategy, or None when updates are not staged.

    Only service jobs deploy; max_parallel = 0 means "update everything at
    once, without a deployment".
    """
    if job.type != JobType.SERVICE:
        return None
    strategy = tg.update
    return strategy if strategy is not None and strategy.max_parallel > 0 else None


def cancel(dep: Deployment, description: str) -> DeploymentStatusUpdate:
    return DeploymentStatusUpdate(
        deployment_id=dep.id,
        status=DeploymentStatus.CANCELLED.value,
        status_description=description,
    )


def cancel_for_stopped_job(latest: Deployment | None) -> list[DeploymentStatusUpdate]:
    if latest is None or not latest.active():
        return []
    return [cancel(latest, CANCELLED_JOB_STOPPED)]


def is_healthy(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.healthy is True


def is_unhealthy(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.healthy is False


def is_canary(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.canary


def rolling_limit(max_parallel: int, members: Iterable[Allocation]) -> int:
    """Destructive updates allowed now: max_parallel minus members not yet healthy.

    `members` are the group's live allocs of the current deployment; a
    single unhealthy one stops the roll until the watcher decides.
    """
    limit = max_parallel
    for alloc in members:
        if is_unhealthy(alloc):
            return 0
        if not is_healthy(alloc):
            limit -= 1
    return max(limit, 0)


@dataclass
class Deployments:
    """Deployment state for one evaluation of one job.

    `current` is the deployment of the job's current version (running,
    paused, failed or cancelled); a successful one is history, so a later
    change may start a new one. `created` is the one this plan creates.
    """

    job: Job
    current: Deployment | None
    created: Deployment | None = None
    updates: list[DeploymentStatusUpdate] = field(default_factory=list)

    @classmethod
    def resolve(cls, job: Job, latest: Deployment | None) -> Deployments:
        updates: list[DeploymentStatusUpdate] = []
        current = latest
        if latest is not None:
            if latest.job_version != job.version or latest.job_create_index != job.create_index:
                if latest.active():
                    updates.append(cancel(latest, CANCELLED_NEWER_JOB))
                current = None
            elif latest.status == DeploymentStatus.SUCCESSFUL:
                current = None
        return cls(job, current, None, updates)

    @property
    def paused(self) -> bool:
        return self.current is not None and self.current.status == DeploymentStatus.PAUSED

    @property
    def failed(self) -> bool:
        return self.current is not None and self.current.status == DeploymentStatus.FAILED

    @property
    def deployment(self) -> Deployment | None:
        return self.created or self.current

    def group_state(self, group: str) -> DeploymentState | None:
        dep = self.deployment
        return dep.task_groups.get(group) if dep is not None else None

    def id_for(self, group: str) -> str:
        """The deployment new allocs of `group` join: an active one covering it."""
        dep = self.deployment
        if dep is None or not dep.active() or group not in dep.task_groups:
            return ""
        return dep.id

    def add_group(
        self,
        tg: TaskGroup,
        strategy: UpdateStrategy,
        canaries: int,
        *,
        now_ns: int,
        new_id: Callable[[], str],
        priority: int,
    ) -> DeploymentState:
        """Start tracking `tg` in the deployment this plan creates (made on first use)."""
        state = DeploymentState(
            auto_revert=strategy.auto_revert,
            auto_promote=strategy.auto_promote,
            progress_deadline=strategy.progress_deadline,
            desired_canaries=canaries,
            desired_total=tg.count,
        )
        dep = self.created
        if dep is None:
            job = self.job
            dep = Deployment(
                id=new_id(),
                namespace=job.namespace,
                job_id=job.id,
                job_version=job.version,
                job_modify_index=job.job_modify_index,
                job_spec_modify_index=job.job_modify_index,
                job_create_index=job.create_index,
                status=DeploymentStatus.RUNNING.value,
                eval_priority=priority,
                create_time=now_ns,
                modify_time=now_ns,
            )
        groups = {**dep.task_groups, tg.name: state}
        self.created = dep.replace(task_groups=groups, status_description=_description(groups))
        return state


def _description(groups: dict[str, DeploymentState]) -> str:
    canarying = [s for s in groups.values() if s.desired_canaries > 0 and not s.promoted]
    if not canarying:
        return RUNNING
    if all(s.auto_promote for s in canarying):
        return RUNNING_AUTO_PROMOTION
    return RUNNING_NEEDS_PROMOTION
