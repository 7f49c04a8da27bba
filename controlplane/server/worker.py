"""Scheduler worker: dequeues evaluations, runs the scheduler, submits plans.

One thread per worker, started on the leader only. Each evaluation: wait
until local state has caught up with the eval, snapshot, schedule (pure),
hand the plan to the plan applier, retry on partial commits, then write the
evaluation's outcome (complete, or blocked with placement failures).

A worker takes every evaluation that is ready, up to MAX_BATCH, and commits
the outcomes of those that placed nothing (a job registered with count 0,
a re-run that finds nothing to do) in ONE Raft entry before acking them:
under a burst of registrations that halves the entries the cluster writes.
The broker never hands out two evaluations of one job at once, so the
evaluations of a batch are independent.
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
MAX_BATCH = 16


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
            batch = [item]
            while len(batch) < MAX_BATCH:
                more = self._broker.dequeue(timeout=0)
                if more is None:
                    break
                batch.append(more)
            self.run_batch(batch)

    def run_batch(self, batch: list[tuple[Evaluation, str]]) -> None:
        """Process dequeued evaluations; ack each once its outcome is committed."""
        waiting: list[tuple[Evaluation, str, list[Evaluation]]] = []
        for ev, token in batch:
            try:
                writes = self.process(ev)
            except Exception:
                log.exception("worker: scheduling failed eval_id=%s job=%s", ev.id, ev.job_id)
                self._broker.nack(ev.id, token)
                continue
            if writes is None:
                self._broker.ack(ev.id, token)
            else:
                waiting.append((ev, token, writes))
        if not waiting:
            return
        try:
            evals = [e for _, _, writes in waiting for e in writes]
            self._raft.submit(MsgType.EVAL_UPSERT, EvalUpsert(evals=evals))
        except Exception:
            log.exception("worker: committing %d evaluation outcomes failed", len(waiting))
            for ev, token, _ in waiting:
                self._broker.nack(ev.id, token)
            return
        for ev, token, _ in waiting:
            self._broker.ack(ev.id, token)

    def process(self, ev: Evaluation) -> list[Evaluation] | None:
        """Schedule `ev`. A plan is committed here (None); when there is
        nothing to commit but evaluations, they are returned for the caller
        to commit with others."""
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
                return final + result.followup_evals
            committed = self._planner.apply(result.plan, final, result.followup_evals)
            if not committed.rejected_nodes:
                return None
            # partial commit: refresh and place the remainder
            self._raft.wait_for_index(committed.refresh_index, timeout=5.0)
        assert result is not None
        return self._outcome(ev, result, self._store.index, plan_conflict=True)

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
