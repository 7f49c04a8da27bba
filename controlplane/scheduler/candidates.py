"""Candidate source cache: one `candidate_nodes` result per (nodes table, datacenters, pool).

Every evaluation needs the ready nodes of its job's datacenters and pool in
id order, an O(nodes) sort and filter, while the nodes table changes rarely
(registrations, status, drain, eligibility; heartbeats do not write it).
A snapshot's nodes dict is shared copy-on-write with the store
(state/cow.py): once handed out it is never changed, so its identity names
its contents. Entries hold the dict itself, so its id cannot be reused while
it is cached. The live store's dict is changed in place and is never cached.
Owns only the cache: what makes a node a candidate is feasible.py's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from controlplane.state.store import StateSnapshot
from controlplane.state.view import StateView
from controlplane.structs import Job, Node

from .feasible import Candidates, candidate_nodes, job_datacenters

# A few distinct (datacenters, pool) pairs per nodes table, and a few
# tables (workers may hold snapshots of different ages).
MAX_ENTRIES = 8

_Key = tuple[int, tuple[str, ...], str]


class CandidateCache:
    """Bounded LRU of candidate sources; safe to share between worker threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, tuple[Mapping[str, Node], Candidates]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def candidates(self, view: StateView, job: Job) -> Candidates:
        """`candidate_nodes` over the view's nodes, cached when the view is a snapshot."""
        nodes = view.frozen_nodes() if isinstance(view, StateSnapshot) else None
        if nodes is None:
            return candidate_nodes(view.nodes(), job)
        # The datacenters in the job's order: `available` keeps that order.
        key = (id(nodes), tuple(job_datacenters(job)), job.node_pool)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is nodes:
                self._entries.move_to_end(key)
                return entry[1]
        # Computed outside the lock: two workers missing together both
        # compute the same value, which is harmless.
        found = candidate_nodes(nodes.values(), job)
        with self._lock:
            self._entries[key] = (nodes, found)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return found


# Shared by every scheduler run in the process; keyed by table identity, so
# servers sharing a process never see each other's entries.
CANDIDATES = CandidateCache()
