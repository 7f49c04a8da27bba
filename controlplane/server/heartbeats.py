"""Heartbeats: the leader's per-node TTL timers; a silent node is marked down.

A node is down after TTL + grace without a heartbeat (API.md §4.5). On
gaining leadership every known node gets a longer failover grace, so a
leader change never marks healthy nodes down. Marking a node down writes
node-update evaluations for the jobs with allocations there, so the
scheduler replaces what was lost.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from controlplane.raft.messages import MsgType, NodeStatus
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.structs import Evaluation

log = logging.getLogger(__name__)


class Heartbeats:
    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        ttl_s: float = 10.0,
        grace_s: float = 10.0,
        failover_grace_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._raft = raft
        self._store = store
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self.failover_grace_s = failover_grace_s
        self._clock = clock
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.arm_all()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
        self._thread.start()

    def arm_all(self) -> None:
        """New leader: every ready node gets TTL + the failover grace."""
        now = self._clock()
        with self._lock:
            self._deadlines = {
                n.id: now + self.ttl_s + self.failover_grace_s
                for n in self._store.read(lambda s: list(s.nodes()))
                if n.status == "ready"
            }

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._deadlines.clear()

    def reset(self, node_id: str) -> float:
        """A heartbeat arrived: restart the node's timer; returns the TTL to hand out."""
        with self._lock:
            self._deadlines[node_id] = self._clock() + self.ttl_s + self.grace_s
        return self.ttl_s

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.expire()

    def expire(self) -> list[str]:
        """Mark down every node whose timer ran out; returns their IDs."""
        now = self._clock()
        with self._lock:
            expired = [n for n, d in self._deadlines.items() if d <= now]
            for n in expired:
                del self._deadlines[n]
        for node_id in expired:
            try:
                self.mark_down(node_id)
            except Exception:
                log.exception("heartbeats: failed to mark node down node_id=%s", node_id)
        return expired

    def mark_down(self, node_id: str) -> None:
        evals = node_update_evals(self._store, node_id, "node-update")
        log.warning("node %s missed its heartbeat: marking down", node_id[:8])
        self._raft.submit(
            MsgType.NODE_STATUS,
            NodeStatus(
                node_id=node_id,
                status="down",
                at_s=int(time.time()),
                now=rfc3339_now(),
                evals=evals,
            ),
        )


def node_update_evals(
    store: StateStore, node_id: str, trigger: str, system_jobs: bool = False
) -> list[Evaluation]:
    """One evaluation per job with live allocs on the node (and, if asked, per system job)."""

    def collect(s: StateStore) -> list[Evaluation]:
        jobs: dict[tuple[str, str], tuple[int, str]] = {}
        for a in s.allocs_by_node(node_id):
            if not a.terminal() and a.job is not None:
                jobs[(a.namespace, a.job_id)] = (a.job.priority, a.job.type)
        if system_jobs:
            for j in s.jobs("*"):
                if j.type in ("system", "sysbatch") and not j.stop:
                    jobs[(j.namespace, j.id)] = (j.priority, j.type)
        now = time.time_ns()
        out = []
        for (ns, job_id), (prio, typ) in sorted(jobs.items()):
            job = s.job_by_id(ns, job_id)
            out.append(
                Evaluation(
                    id=str(uuid.uuid4()),
                    namespace=ns,
                    priority=prio,
                    type=typ,
                    triggered_by=trigger,
                    job_id=job_id,
                    job_modify_index=job.job_modify_index if job else 0,
                    node_id=node_id,
                    status="pending",
                    create_time=now,
                    modify_time=now,
                )
            )
        return out

    result: list[Evaluation] = store.read(collect)
    return result


def rfc3339_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
