"""Heartbeats: the leader's per-node TTL timers; a silent node is marked down.

The TTL handed to a client is Nomad's: `min_ttl_s` (min_heartbeat_ttl),
or more when `n / max_per_second` is longer (n = nodes with a timer, so a
big cluster does not heartbeat the leader faster than max_heartbeats_per_
second), plus a random stagger of up to one TTL so clients spread out. The
node is down once TTL + `grace_s` (heartbeat_grace) pass without a
heartbeat. On gaining leadership every ready node gets TTL + the longer
failover grace, so a leader change never marks healthy nodes down.

Marking a node down writes node-update evaluations for the jobs with
allocations there; the scheduler then marks those allocs lost and replaces
them. It never touches allocations itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable

from controlplane.raft.messages import MsgType, NodeStatus
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.structs import Evaluation

log = logging.getLogger(__name__)

# Nomad's server defaults
MIN_HEARTBEAT_TTL_S = 10.0
MAX_HEARTBEATS_PER_SECOND = 50.0
HEARTBEAT_GRACE_S = 10.0
FAILOVER_GRACE_S = 30.0


def heartbeat_ttl(min_ttl_s: float, max_per_second: float, nodes: int) -> float:
    """Nomad's RateScaledInterval: the TTL that keeps `nodes` within the rate."""
    if max_per_second <= 0:
        return min_ttl_s
    return max(min_ttl_s, nodes / max_per_second)


class Heartbeats:
    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        min_ttl_s: float = MIN_HEARTBEAT_TTL_S,
        grace_s: float = HEARTBEAT_GRACE_S,
        failover_grace_s: float = FAILOVER_GRACE_S,
        max_per_second: float = MAX_HEARTBEATS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._raft = raft
        self._store = store
        self.min_ttl_s = min_ttl_s
        self.grace_s = grace_s
        self.failover_grace_s = failover_grace_s
        self.max_per_second = max_per_second
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.arm_all()
        # a fresh event per term: a loop from an earlier term can never resume
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="heartbeats", daemon=True
        )
        self._thread.start()

    def arm_all(self) -> None:
        """New leader: every ready node gets the longest TTL the old leader
        could have handed it, and at least the minimum TTL + the failover grace.

        A client beats at half the TTL it was given, and in a big cluster
        that TTL is rate-scaled and staggered up to twice `n / max_per_second`
        (5,000 nodes: up to 200 s): arming them with the minimum TTL marked
        healthy nodes down 40 s after a leader change (Nomad arms every node
        with a flat 5-minute failover TTL).
        """
        now = self._clock()
        ready = [n.id for n in self._store.read(lambda s: list(s.nodes())) if n.status == "ready"]
        longest = 2 * heartbeat_ttl(self.min_ttl_s, self.max_per_second, len(ready))
        wait = max(self.min_ttl_s + self.failover_grace_s, longest + self.grace_s)
        with self._lock:
            self._deadlines = dict.fromkeys(ready, now + wait)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._deadlines.clear()

    def reset(self, node_id: str) -> float:
        """A heartbeat arrived: restart the node's timer; returns the TTL to hand out."""
        with self._lock:
            nodes = len(self._deadlines) + (0 if node_id in self._deadlines else 1)
            ttl = heartbeat_ttl(self.min_ttl_s, self.max_per_second, nodes)
            ttl += ttl * self._rng()  # stagger: clients do not beat in lockstep
            self._deadlines[node_id] = self._clock() + ttl + self.grace_s
        return ttl

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(min(0.25, self.min_ttl_s / 4)):
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
        node = self._store.node_by_id(node_id)
        if node is None or node.status == "down":
            return
        evals = node_update_evals(self._store, node_id, "node-update")
        log.warning(
            "node missed its heartbeat: marking down node_id=%s evals=%d", node_id, len(evals)
        )
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
