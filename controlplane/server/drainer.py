"""Node drainer: moves allocations off draining nodes, on the leader.

For every node with a DrainStrategy it:

    marks live allocs of service/batch jobs DesiredTransition.Migrate and
        writes one node-drain evaluation per job (the scheduler replaces them)
    once those are gone, does the same for system jobs' allocs
        (unless IgnoreSystemJobs)
    completes the drain when nothing it must move is left, or when the
        deadline passes (Deadline < 0 forces at once): the node stays
        ineligible, LastDrain.Status = complete

It never schedules and never stops an alloc itself: Migrate is a request the
scheduler acts on. Allocs are marked all at once (migrate.max_parallel is
not applied yet).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from controlplane.raft.messages import AllocDesiredTransition, MsgType, NodeDrain
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.structs import Allocation, DesiredTransition, Evaluation, Job, Node

from .deployment_watcher import parse_time, rfc3339

log = logging.getLogger(__name__)

SYSTEM_TYPES = frozenset({"system", "sysbatch"})
TICK_S = 1.0  # deadlines are checked at least this often


class NodeDrainer:
    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        clock: Callable[[], float] = time.time,
        tick_s: float = TICK_S,
    ) -> None:
        self._raft = raft
        self._store = store
        self._clock = clock
        self._tick_s = tick_s
        self._stop = threading.Event()

    def start(self) -> None:
        # a fresh event per run: a loop from an earlier term can never resume
        self._stop = threading.Event()
        stop = self._stop
        threading.Thread(target=self._run, args=(stop,), name="node-drainer", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("node drainer: tick failed")
            if self._store.notifier.closed:
                stop.wait(self._tick_s)
            else:
                # a state change (an alloc stopped) or the next deadline check
                self._store.notifier.wait(self._tick_s)

    def tick(self) -> None:
        now = self._clock()
        draining = [n for n in self._store.read(lambda s: list(s.nodes())) if n.drain]
        for node in draining:
            try:
                self._drain(node, now)
            except Exception:
                log.exception("node drainer: drain step failed node_id=%s", node.id)

    def _drain(self, node: Node, now: float) -> None:
        strategy: dict[str, Any] = node.drain_strategy or {}
        ignore_system = bool(strategy.get("IgnoreSystemJobs"))
        force_at = parse_time(strategy.get("ForceDeadline"))
        deadlined = int(strategy.get("Deadline") or 0) < 0 or (
            force_at is not None and now >= force_at
        )
        live = [a for a in self._store.allocs_by_node(node.id) if not a.terminal()]
        regular = [a for a in live if _job_type(a) not in SYSTEM_TYPES]
        system = [] if ignore_system else [a for a in live if _job_type(a) in SYSTEM_TYPES]
        # system jobs go last: they often serve the node's other allocs
        moving = regular + system if deadlined or not regular else regular
        unmarked = [a for a in moving if not a.desired_transition.migrate]
        if unmarked:
            self._mark(node, unmarked, now)
        if deadlined or not (regular or system):
            log.info("node drain complete node_id=%s deadline_reached=%s", node.id, deadlined)
            self._raft.submit(
                MsgType.NODE_DRAIN,
                NodeDrain(node_id=node.id, drain_strategy=None, complete=True, now=rfc3339(now)),
            )

    def _mark(self, node: Node, allocs: list[Allocation], now: float) -> None:
        now_ns = int(now * 1e9)
        evals = [
            _drain_eval(a, self._store.job_by_id(a.namespace, a.job_id) or a.job, node.id, now_ns)
            for a in {(a.namespace, a.job_id): a for a in allocs}.values()
        ]
        log.info("draining node node_id=%s allocs=%d jobs=%d", node.id[:8], len(allocs), len(evals))
        self._raft.submit(
            MsgType.ALLOC_DESIRED_TRANSITION,
            AllocDesiredTransition(
                transitions={a.id: DesiredTransition(migrate=True) for a in allocs},
                evals=evals,
                modify_time=now_ns,
            ),
        )


def _job_type(alloc: Allocation) -> str:
    return alloc.job.type if alloc.job is not None else "service"


def _drain_eval(alloc: Allocation, job: Job | None, node_id: str, now_ns: int) -> Evaluation:
    return Evaluation(
        id=str(uuid.uuid4()),
        namespace=alloc.namespace,
        priority=job.priority if job is not None else 50,
        type=_job_type(alloc),
        triggered_by="node-drain",
        job_id=alloc.job_id,
        job_modify_index=job.job_modify_index if job is not None else 0,
        node_id=node_id,
        status="pending",
        create_time=now_ns,
        modify_time=now_ns,
    )
