"""Scheduler worker: dequeues evaluations, runs the scheduler, submits plans.

One thread per worker, started on the leader only. Each evaluation: wait
until local state has caught up with the eval, snapshot, schedule (pure),
hand the plan to the plan applier, retry on partial commits, then write the
evaluation's outcome (complete, or blocked with placement failures).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import zlib

from controlplane.raft.messages import EvalUpsert, MsgType
from controlplane.raft.node import RaftNode
from controlplane.scheduler import schedule
from controlplane.state import StateStore
from controlplane.structs import Evaluation, SchedulerResult

from .blocked_evals import BlockedEvals
from .eval_broker import EvalBroker
from .plan_apply import PlanApplier

log = logging.getLogger(__name__)

MAX_PLAN_ATTEMPTS = {"service": 5, "system": 5, "batch": 2, "sysbatch": 2}


class Worker:
    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        broker: EvalBroker,
        blocked: BlockedEvals,
        planner: PlanApplier,
    ) -> None:
        self._raft = raft
        self._store = store
        self._broker = broker
        self._blocked = blocked
        self._planner = planner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sched-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._broker.dequeue(timeout=0.5)
            if item is None:
                continue
            ev, token = item
            try:
                self.process(ev)
            except Exception:
                log.exception("worker: scheduling failed eval_id=%s job=%s", ev.id, ev.job_id)
                self._broker.nack(ev.id, token)
                continue
            self._broker.ack(ev.id, token)

    def process(self, ev: Evaluation) -> None:
        if not self._raft.wait_for_index(ev.modify_index, timeout=5.0):
            raise TimeoutError(f"state did not reach index {ev.modify_index}")
        attempts = MAX_PLAN_ATTEMPTS.get(ev.type, 5)
        result: SchedulerResult | None = None
        for attempt in range(attempts):
            snap = self._store.snapshot()
            result = schedule(
                snap,
                ev,
                now_ns=time.time_ns(),
                seed=zlib.crc32(ev.id.encode()) + attempt,
                new_id=lambda: str(uuid.uuid4()),
            )
            final = self._outcome(ev, result, snap.index)
            _log_result(ev, result)
            if result.plan.is_noop():
                evals = final + result.followup_evals
                self._raft.submit(MsgType.EVAL_UPSERT, EvalUpsert(evals=evals))
                return
            committed = self._planner.apply(result.plan, final, result.followup_evals)
            if not committed.rejected_nodes:
                return
            # partial commit: refresh and place the remainder
            self._raft.wait_for_index(committed.refresh_index, timeout=5.0)
        assert result is not None
        final = self._outcome(ev, result, self._store.index, plan_conflict=True)
        self._raft.submit(MsgType.EVAL_UPSERT, EvalUpsert(evals=final))

    def _outcome(
        self, ev: Evaluation, result: SchedulerResult, snap_index: int, plan_conflict: bool = False
    ) -> list[Evaluation]:
        """The evaluation writes that finish `ev`: itself, and a blocked eval if needed."""
        now = time.time_ns()
        failed = dict(result.failed_tg_allocs) or None
        queued = dict(result.queued_allocations)
        out: list[Evaluation] = []
        existing_blocked = self._blocked.for_job(ev.namespace, ev.job_id)
        if ev.status == "blocked":
            # a re-run of a blocked eval: it stays blocked until all is placed
            status = "blocked" if failed else "complete"
            out.append(
                ev.replace(
                    status=status,
                    failed_tg_allocs=failed,
                    queued_allocations=queued,
                    snapshot_index=snap_index,
                    modify_time=now,
                    quota_limit_reached=result.quota_limit_reached,
                )
            )
            return out
        out.append(
            ev.replace(
                status="complete",
                failed_tg_allocs=failed,
                queued_allocations=queued,
                snapshot_index=snap_index,
                modify_time=now,
            )
        )
        if existing_blocked is not None:
            out.append(
                existing_blocked.replace(
                    status="canceled", modify_time=now, status_description="canceled: superseded"
                )
            )
        if failed or plan_conflict:
            blocked = Evaluation(
                id=str(uuid.uuid4()),
                namespace=ev.namespace,
                priority=ev.priority,
                type=ev.type,
                triggered_by="max-plan-attempts" if plan_conflict else "queued-allocs",
                job_id=ev.job_id,
                job_modify_index=ev.job_modify_index,
                status="blocked",
                status_description=(
                    "created due to placement conflicts"
                    if plan_conflict
                    else "created to place remaining allocations"
                ),
                previous_eval=ev.id,
                failed_tg_allocs=failed,
                queued_allocations=queued,
                snapshot_index=snap_index,
                create_time=now,
                modify_time=now,
                quota_limit_reached=result.quota_limit_reached,
            )
            out[0] = out[0].replace(blocked_eval=blocked.id)
            out.append(blocked)
        return out


def _log_result(ev: Evaluation, result: SchedulerResult) -> None:
    plan = result.plan
    placed = sum(len(v) for v in plan.node_allocation.values())
    stopped = sum(len(v) for v in plan.node_update.values())
    unplaced = sum(result.queued_allocations.values())
    log.info(
        "eval_id=%s job=%s triggered_by=%s: %d to place or update, %d to stop, %d unplaced",
        ev.id[:8],
        ev.job_id,
        ev.triggered_by,
        placed,
        stopped,
        unplaced,
    )
