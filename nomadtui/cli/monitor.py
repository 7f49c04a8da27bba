"""The evaluation monitor shown after `job run | stop | scale | revert` and
`deployment promote | resume | fail`: follows one evaluation (and its
`NextEval` chain) to a terminal status, printing what changed, reports
placement failures, then hands over to the deployment monitor when the last
evaluation belongs to a deployment (or, for a job submission, when the job's
new version has one). After placement failures it stops with exit code 2:
that deployment could not finish before capacity appears.

Uses blocking queries on the evaluation; falls back to 1 s polling when the
server does not advance `X-Nomad-Index`. Never writes to the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controlplane.errors import NotFound

from . import format as fmt
from .context import Context, reporting
from .deployment_format import PAUSED, RUNNING
from .deployment_monitor import DeploymentMonitor
from .metrics import alloc_metric_lines, failed_to_place

POLL_INTERVAL_S = 1.0
BLOCKING_WAIT_S = 10.0
TERMINAL = frozenset({"complete", "failed", "canceled", "cancelled"})

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_PLACEMENT_FAILURE = 2


@dataclass(frozen=True)
class _Alloc:
    id: str
    node: str
    group: str
    desired: str
    client: str
    client_desc: str
    create_index: int


@dataclass
class _EvalState:
    status: str = ""
    job: str = ""
    node: str = ""
    deployment: str = ""
    index: int = 0
    allocs: dict[str, _Alloc] = field(default_factory=dict)

    @classmethod
    def observe(cls, ev: dict[str, Any], allocs: list[dict[str, Any]]) -> _EvalState:
        return cls(
            status=ev.get("Status", ""),
            job=ev.get("JobID", "") if not ev.get("NodeID") else "",
            node=ev.get("NodeID", ""),
            deployment=ev.get("DeploymentID", ""),
            index=int(ev.get("CreateIndex") or 0),
            allocs={
                a["ID"]: _Alloc(
                    id=a["ID"],
                    node=a.get("NodeID", ""),
                    group=a.get("TaskGroup", ""),
                    desired=a.get("DesiredStatus", ""),
                    client=a.get("ClientStatus", ""),
                    client_desc=a.get("ClientDescription", ""),
                    create_index=int(a.get("CreateIndex") or 0),
                )
                for a in allocs
            },
        )


class EvalMonitor:
    def __init__(self, ctx: Context, verbose: bool = False) -> None:
        self.ctx = ctx
        self.verbose = verbose
        self.length = fmt.id_length(verbose)

    def _id(self, value: str) -> str:
        return value[: self.length]

    def info(self, message: str) -> None:
        self.ctx.out(f"==> {self.ctx.stamp()}: {message}")

    def output(self, message: str) -> None:
        self.ctx.out(f"    {self.ctx.stamp()}: {message}")

    def monitor(self, eval_id: str, job_id: str | None = None, namespace: str | None = None) -> int:
        """Follow `eval_id`, its successors and its deployment; return the
        command's exit code. `job_id` (a submission) also looks for a
        deployment of the job's new version when the evaluation names none."""
        placement_failed = False
        status = ""
        ev: dict[str, Any] = {}
        self.info(f'Monitoring evaluation "{self._id(eval_id)}"')
        current: str | None = eval_id
        while current:
            ev = self._follow(current)
            status = ev.get("Status", "")
            placement_failed |= self._report_outcome(ev)
            current = ev.get("NextEval") or None
            if current:
                wait_ns = int(ev.get("Wait") or 0)
                if wait_ns:
                    self.info(
                        f'Monitoring next evaluation "{self._id(current)}" in '
                        f"{fmt.go_duration(wait_ns)}"
                    )
                    self.ctx.runtime.sleep(wait_ns / 1e9)
        if placement_failed:
            # The deployment cannot finish before capacity appears: watching it
            # would hang until its progress deadline. Report the failure now.
            return EXIT_PLACEMENT_FAILURE
        deployment_id = ev.get("DeploymentID") or ""
        if not deployment_id and job_id:
            deployment_id = self._new_deployment(job_id, namespace, ev)
        if deployment_id:
            self.info(f'Monitoring deployment "{self._id(deployment_id)}"')
            return DeploymentMonitor(self.ctx, self.verbose).run(deployment_id).exit_code
        return EXIT_ERROR if status == "failed" else EXIT_OK

    def _new_deployment(self, job_id: str, namespace: str | None, ev: dict[str, Any]) -> str:
        """The job's latest deployment if it rolls out the current version and
        is still active or was started by this evaluation; else ""."""
        client = self.ctx.client
        with reporting("Error reading deployment"):
            try:
                latest = client.job_deployment(job_id, namespace=namespace).data
                if not latest:
                    return ""
                job: dict[str, Any] = client.job(job_id, namespace=namespace).data or {}
            except NotFound:
                return ""  # job purged meanwhile, or a server without deployments
        if latest.get("JobVersion") != job.get("Version"):
            return ""
        active = latest.get("Status") in (RUNNING, PAUSED)
        started_here = int(latest.get("CreateIndex") or 0) >= int(ev.get("CreateIndex") or 0)
        return str(latest.get("ID", "")) if active or started_here else ""

    def _follow(self, eval_id: str) -> dict[str, Any]:
        client = self.ctx.client
        state = _EvalState()
        index = 0
        while True:
            with reporting("Error reading evaluation"):
                resp = client.evaluation(
                    eval_id, index=index or None, wait=BLOCKING_WAIT_S if index else None
                )
                allocs = client.evaluation_allocations(eval_id).data or []
            ev: dict[str, Any] = resp.data or {}
            update = _EvalState.observe(ev, allocs)
            self._report_changes(state, update)
            state = update
            if update.status in TERMINAL:
                return ev
            if resp.index <= index:
                # The server did not block (or has no index header): pace ourselves.
                self.ctx.runtime.sleep(POLL_INTERVAL_S)
            index = max(index, resp.index)

    def _report_changes(self, old: _EvalState, new: _EvalState) -> None:
        if not old.node and new.node:
            self.output(f'Evaluation triggered by node "{self._id(new.node)}"')
        if not old.job and new.job:
            self.output(f'Evaluation triggered by job "{new.job}"')
        if not old.deployment and new.deployment:
            self.output(f'Evaluation within deployment: "{self._id(new.deployment)}"')
        for alloc in sorted(new.allocs.values(), key=lambda a: (a.create_index, a.id)):
            before = old.allocs.get(alloc.id)
            where = f'node "{self._id(alloc.node)}", group "{alloc.group}"'
            if before is None:
                if alloc.create_index < new.index:
                    # Created before this eval: the eval updated it in place.
                    self.output(f'Allocation "{self._id(alloc.id)}" modified: {where}')
                elif alloc.desired == "run":
                    self.output(f'Allocation "{self._id(alloc.id)}" created: {where}')
            elif before.client != alloc.client:
                desc = f" ({alloc.client_desc})" if alloc.client_desc else ""
                self.output(
                    f'Allocation "{self._id(alloc.id)}" status changed: '
                    f'"{before.client}" -> "{alloc.client}"{desc}'
                )
        # Transitions into "pending" are noise; the first observation is not a change.
        if old.status and new.status != "pending" and old.status != new.status:
            self.output(f'Evaluation status changed: "{old.status}" -> "{new.status}"')

    def _report_outcome(self, ev: dict[str, Any]) -> bool:
        short = self._id(ev.get("ID", ""))
        status = ev.get("Status", "")
        failed: dict[str, Any] = ev.get("FailedTGAllocs") or {}
        if not failed:
            self.info(f'Evaluation "{short}" finished with status "{status}"')
            return False
        self.info(
            f'Evaluation "{short}" finished with status "{status}" '
            "but failed to place all allocations:"
        )
        for group, metric in sorted(failed.items()):
            self.output(f'Task Group "{group}" (failed to place {failed_to_place(metric)}):')
            for line in alloc_metric_lines(metric):
                self.ctx.out(f"    {line}")
        blocked = ev.get("BlockedEval")
        if blocked:
            self.output(
                f'Evaluation "{self._id(blocked)}" waiting for additional capacity '
                "to place remainder"
            )
        return True
