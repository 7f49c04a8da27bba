"""Node drainer: moves allocations off draining nodes, on the leader.

For every node with a DrainStrategy, on each tick (at least every
`tick_s`, and on a commit to the nodes table or, while a node drains, to the
allocations or jobs tables; at most one per MIN_PASS_INTERVAL_S):

    service allocs   marked DesiredTransition.Migrate, per task group at
                     most `migrate.max_parallel` at a time: the next ones
                     only once the group has count - max_parallel healthy
                     allocs again (Nomad's drainer: numToDrain = healthy -
                     (count - max_parallel)); one node-drain evaluation per
                     job lets the scheduler replace them
    batch allocs     left to finish
    system allocs    marked last, once no service / batch alloc is left
                     (never with IgnoreSystemJobs)
    complete         when nothing it must move is left: the node stays
                     ineligible, DrainStrategy cleared, LastDrain complete
    deadline         (ForceDeadline passed, or Deadline < 0): everything
                     left is marked at once and the drain completes; the
                     completion carries the evaluations, so the scheduler
                     sees the node no longer draining and stops migrating
                     allocs whose replacement found no room

Healthy, for the migration count: the client's deployment health verdict
when a deployment tracks the alloc; otherwise running for the group's
`migrate.min_healthy_time` (the client does not report migrate health).
The drainer never schedules and never stops an alloc itself: Migrate is a
request the scheduler acts on.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from controlplane.raft.messages import AllocDesiredTransition, MsgType, NodeDrain
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.structs import SEC, Allocation, DesiredTransition, Evaluation, Job, Node
from controlplane.structs import TaskGroup as Group

from .deployment_watcher import parse_time, rfc3339, tables_moved, wait_for_change

log = logging.getLogger(__name__)

SYSTEM_TYPES = frozenset({"system", "sysbatch"})
TICK_S = 1.0  # deadlines and min_healthy_time are checked at least this often
# the tables a pass reads: a commit to another one never wakes the loop
_READS = ("nodes", "allocs", "jobs")


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
        # the last pass saw a draining node
        self._draining = False

    def start(self) -> None:
        # a fresh event per run: a loop from an earlier term can never resume
        self._stop = threading.Event()
        stop = self._stop
        threading.Thread(target=self._run, args=(stop,), name="node-drainer", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, stop: threading.Event) -> None:
        store = self._store
        while not stop.is_set():
            started = time.monotonic()
            # read before the pass: a change during it makes another one
            seen = {t: store.table_index(t) for t in _READS}
            try:
                self.tick()
            except Exception:
                log.exception("node drainer: tick failed")
            if not self._draining:
                # only a node write can start a drain: until one does, the
                # commits of allocations and jobs are none of its business
                seen = {"nodes": seen["nodes"]}
            # a change it acts on (an alloc stopped) or the next deadline check
            wait_for_change(store, stop, tables_moved(store, seen), self._tick_s, started)

    def tick(self) -> None:
        now = self._clock()
        draining = [n for n in self._store.read(lambda s: list(s.nodes())) if n.drain]
        self._draining = bool(draining)
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
        service = [a for a in live if _job_type(a) not in SYSTEM_TYPES | {"batch"}]
        batch = [a for a in live if _job_type(a) == "batch"]
        system = [] if ignore_system else [a for a in live if _job_type(a) in SYSTEM_TYPES]
        remaining = service + batch + system
        if deadlined:
            self._force(node, remaining, now)
            return
        if not remaining:
            self._complete(node, now, [], deadline_reached=False)
            return
        if service:
            self._mark(node, self._migratable(service, now), now)
        elif not batch:
            # system jobs go last: they often serve the node's other allocs
            self._mark(node, [a for a in system if not a.desired_transition.migrate], now)

    def _migratable(self, on_node: list[Allocation], now: float) -> list[Allocation]:
        """The service allocs to mark now, within each group's max_parallel."""
        by_group: dict[tuple[str, str, str], list[Allocation]] = {}
        for a in on_node:
            if not a.desired_transition.migrate:
                by_group.setdefault((a.namespace, a.job_id, a.task_group), []).append(a)
        out: list[Allocation] = []
        for (ns, job_id, group), unmarked in sorted(by_group.items()):
            job = self._store.job_by_id(ns, job_id)
            tg = job.group(group) if job is not None and not job.stop else None
            if tg is None:
                out.extend(unmarked)  # nothing to keep available: the job moved on
                continue
            siblings = [a for a in self._store.allocs_by_job(ns, job_id) if a.task_group == group]
            out.extend(drain_batch(tg, unmarked, siblings, now))
        return out

    def _mark(
        self, node: Node, allocs: list[Allocation], now: float, with_evals: bool = True
    ) -> None:
        if not allocs:
            return
        now_ns = int(now * 1e9)
        log.info("draining node node_id=%s marking allocs=%s", node.id, [a.id for a in allocs])
        self._raft.submit(
            MsgType.ALLOC_DESIRED_TRANSITION,
            AllocDesiredTransition(
                transitions={a.id: DesiredTransition(migrate=True) for a in allocs},
                evals=self._evals(node, allocs, now_ns) if with_evals else [],
                modify_time=now_ns,
            ),
        )

    def _force(self, node: Node, remaining: list[Allocation], now: float) -> None:
        """The deadline passed: mark what is left, then complete with its evals."""
        self._mark(node, [a for a in remaining if not a.desired_transition.migrate], now, False)
        self._complete(node, now, self._evals(node, remaining, int(now * 1e9)), True)

    def _complete(
        self, node: Node, now: float, evals: list[Evaluation], deadline_reached: bool
    ) -> None:
        log.info("node drain complete node_id=%s deadline_reached=%s", node.id, deadline_reached)
        self._raft.submit(
            MsgType.NODE_DRAIN,
            NodeDrain(
                node_id=node.id, drain_strategy=None, complete=True, now=rfc3339(now), evals=evals
            ),
        )

    def _evals(self, node: Node, allocs: Iterable[Allocation], now_ns: int) -> list[Evaluation]:
        """One node-drain evaluation per job of `allocs`."""
        firsts = {(a.namespace, a.job_id): a for a in allocs}
        return [
            _drain_eval(a, self._store.job_by_id(a.namespace, a.job_id) or a.job, node.id, now_ns)
            for _, a in sorted(firsts.items())
        ]


def drain_batch(
    tg: Group, unmarked: list[Allocation], siblings: list[Allocation], now: float
) -> list[Allocation]:
    """Which of a group's `unmarked` allocs on a draining node to mark now.

    `siblings` are all of the group's allocs, on any node. Allocs already
    marked but still running do not count as healthy: their replacements
    have not taken over yet.
    """
    max_parallel = tg.migrate.max_parallel if tg.migrate is not None else 1
    healthy = sum(
        1
        for a in siblings
        if not a.terminal() and not a.desired_transition.migrate and migration_healthy(a, tg, now)
    )
    allowed = healthy - (tg.count - max_parallel)
    if allowed <= 0:
        return []
    return sorted(unmarked, key=lambda a: (a.name, a.id))[:allowed]


def migration_healthy(alloc: Allocation, tg: Group, now: float) -> bool:
    ds = alloc.deployment_status
    if ds is not None and ds.healthy is not None:
        return ds.healthy
    if alloc.client_status != "running":
        return False
    update = tg.update
    if alloc.deployment_id and update is not None and update.health_check != "manual":
        return False  # the client will report the deployment's verdict
    started = [parse_time(s.started_at) for s in (alloc.task_states or {}).values()]
    if not started or any(t is None for t in started):
        return False
    min_healthy_s = tg.migrate.min_healthy_time / SEC if tg.migrate is not None else 0.0
    return now >= max(t for t in started if t is not None) + min_healthy_s


def _job_type(alloc: Allocation) -> str:
    return alloc.job.type if alloc.job is not None else "service"


def _drain_eval(alloc: Allocation, job: Job | None, node_id: str, now_ns: int) -> Evaluation:
    return Evaluation(
        id=str(uuid.uuid4()),
        namespace=alloc.namespace,
        priority=job.priority if job is not None else 50,
        type=job.type if job is not None else _job_type(alloc),
        triggered_by="node-drain",
        job_id=alloc.job_id,
        job_modify_index=job.job_modify_index if job is not None else 0,
        node_id=node_id,
        status="pending",
        create_time=now_ns,
        modify_time=now_ns,
    )
