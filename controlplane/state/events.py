"""Event stream data: events derived from applied Raft entries, the ring
buffer subscribers read them from, and subscription filters (API.md §2.8).

The FSM publishes one batch per applied entry, in the Raft thread, so
building one must stay cheap: the objects an entry changed are found by ID
from its payload and kept only when their ModifyIndex is the entry's index;
events hold references to the frozen structs and their JSON is encoded at
send time, once per event. As in Nomad, an event's Type comes from the
message, for every object the message changed (a job registration's eval is
a "JobRegistered" event of topic Evaluation; a plan's allocs are
"PlanResult" events). Service catalog events (`ServiceRegistration`,
`ServiceDeregistration`) are the exception: their Type says what happened.
Nothing here blocks or talks to the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from controlplane.structs import Allocation, Deployment, Evaluation, Job, Node, Struct

EVENT_BUFFER_SIZE = 4096
"""Applied entries (event batches) kept for `?index=` resumption."""

# Raft message type name -> the Type of the events its entry produces.
EVENT_TYPES: dict[str, str] = {
    "JOB_REGISTER": "JobRegistered",
    "JOB_DEREGISTER": "JobDeregistered",
    "NODE_REGISTER": "NodeRegistration",
    "NODE_STATUS": "NodeStreamEvent",
    "EVAL_UPSERT": "EvaluationUpdated",
    "PLAN_APPLY": "PlanResult",
    "ALLOC_CLIENT_UPDATE": "AllocationUpdated",
    "DEPLOYMENT_UPDATE": "DeploymentStatusUpdate",
    "ALLOC_HEALTH": "DeploymentAllocHealth",
    # Nomad reports eligibility changes as NodeDrain events too.
    "NODE_ELIGIBILITY": "NodeDrain",
    "NODE_DRAIN": "NodeDrain",
    "ALLOC_DESIRED_TRANSITION": "AllocationUpdateDesiredStatus",
    # a periodic launch or a dispatch registers a child job
    "PERIODIC_LAUNCH": "JobRegistered",
    "JOB_DISPATCH": "JobRegistered",
}
TYPE_DEPLOYMENT_PROMOTION = "DeploymentPromotion"

_encoder = msgspec.json.Encoder()


class Event(msgspec.Struct, gc=False):
    """One change to one object; `payload` is the stored frozen struct.

    Untracked by the cyclic GC like the structs it carries (a server keeps
    tens of thousands in its buffer). `_json` caches the encoded event.
    """

    topic: str
    type: str
    key: str
    namespace: str
    filter_keys: tuple[str, ...] | None
    index: int
    payload: Struct
    _json: bytes | None = None

    def wire_payload(self) -> dict[str, Any]:
        p = self.payload
        if isinstance(p, Allocation):
            # as Nomad: the embedded job would dwarf the event
            return {"Allocation": p.replace(job=None)}
        if isinstance(p, Node):
            return {"Node": p.replace(secret_id="")}
        if isinstance(p, Evaluation):
            return {"Evaluation": p}
        return {self.topic: p}

    def to_json(self) -> bytes:
        """The event as Nomad encodes it (cached: every subscriber sends the same bytes)."""
        if self._json is None:
            self._json = _encoder.encode(
                {
                    "Topic": self.topic,
                    "Type": self.type,
                    "Key": self.key,
                    "Namespace": self.namespace,
                    "FilterKeys": list(self.filter_keys) if self.filter_keys is not None else None,
                    "Index": self.index,
                    "Payload": self.wire_payload(),
                }
            )
        return self._json

    def __repr__(self) -> str:
        return f"Event({self.topic}/{self.type} key={self.key} index={self.index})"


@dataclass(frozen=True)
class EventBatch:
    index: int
    events: tuple[Event, ...]


def encode_batch(index: int, events: Iterable[Event]) -> bytes:
    """One NDJSON line: `{"Index": N, "Events": [...]}` and a newline."""
    body = b",".join(e.to_json() for e in events)
    return b'{"Index":%d,"Events":[%s]}\n' % (index, body)


# -- deriving events from an applied entry ----------------------------------


def entry_events(msg_name: str, payload: Any, store: Any, index: int) -> list[Event]:
    """Events for the objects entry `index` (message `msg_name`) changed in `store`.

    `store` is the StateStore the entry was just applied to (read without
    copying: only the Raft thread writes it).
    """
    # catalog changes come from the store's log: a deletion leaves nothing
    # to find by ID, and any entry that ends an allocation may make some
    events = [
        Event("Service", kind, reg.id, reg.namespace, (reg.job_id, reg.service_name), index, reg)
        for kind, reg in store.take_service_changes(index)
    ]
    etype = EVENT_TYPES.get(msg_name)
    if etype is None:
        return events
    if msg_name == "DEPLOYMENT_UPDATE" and getattr(payload, "promote", False):
        etype = TYPE_DEPLOYMENT_PROMOTION
    t = _Touched()
    t.collect(payload)
    # most entries touch one or two kinds of object: empty kinds cost nothing
    for ns, job_id in t.jobs:
        job = store.job_by_id(ns, job_id)
        if job is not None and job.modify_index == index:
            events.append(Event("Job", etype, job.id, job.namespace, None, index, job))
    for node_id in t.nodes:
        node = store.node_by_id(node_id)
        if node is not None and node.modify_index == index:
            events.append(Event("Node", etype, node.id, "", None, index, node))
    allocs: list[Allocation] = []
    if t.allocs:
        # a plan or a client update changes hundreds: one C-level pass each
        allocs = [
            a for a in map(store.alloc_by_id, t.allocs) if a is not None and a.modify_index == index
        ]
        for alloc in allocs:
            if alloc.deployment_id:
                t.deployments.setdefault(alloc.deployment_id, None)
    for dep_id in t.deployments:
        dep = store.deployment_by_id(dep_id)
        if dep is not None and dep.modify_index == index:
            events.append(
                Event("Deployment", etype, dep.id, dep.namespace, (dep.job_id,), index, dep)
            )
    if allocs:
        # one FilterKeys tuple per (job, deployment), shared by its events: a
        # plan's hundred would be a hundred more objects the cyclic GC counts
        # (and collects for) while the buffer holds them
        shared: dict[tuple[str, str], tuple[str, str]] = {}
        for a in allocs:
            k = (a.job_id, a.deployment_id)
            k = shared.setdefault(k, k)
            events.append(Event("Allocation", etype, a.id, a.namespace, k, index, a))
    for eval_id in t.evals:
        ev = store.eval_by_id(eval_id)
        if ev is not None and ev.modify_index == index:
            keys = (ev.job_id, ev.deployment_id)
            events.append(Event("Evaluation", etype, ev.id, ev.namespace, keys, index, ev))
    return events


class _Touched:
    """IDs of the objects a message may change, read off its payload fields.

    Dicts keep first-seen order and drop duplicates.
    """

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], None] = {}
        self.nodes: dict[str, None] = {}
        self.allocs: dict[str, None] = {}
        self.deployments: dict[str, None] = {}
        self.evals: dict[str, None] = {}

    def collect(self, p: Any) -> None:
        for read in _readers(p):
            read(self, p)


_Reader = Callable[[_Touched, Any], None]


# What each payload field contributes. A message type's readers are found
# once (_readers): an entry runs only those of the fields it has, in this
# order (each dict keeps first-seen order), instead of probing every name.
def _job(t: _Touched, p: Any) -> None:
    if isinstance(p.job, Job):
        t.jobs[(p.job.namespace, p.job.id)] = None


def _revert_job(t: _Touched, p: Any) -> None:
    if isinstance(p.revert_job, Job):
        t.jobs[(p.revert_job.namespace, p.revert_job.id)] = None


def _job_stable(t: _Touched, p: Any) -> None:
    if p.job_stable is not None:
        t.jobs[(p.job_stable.namespace, p.job_stable.job_id)] = None


def _job_id(t: _Touched, p: Any) -> None:
    if isinstance(p.job_id, str):
        t.jobs[(p.namespace, p.job_id)] = None


def _node(t: _Touched, p: Any) -> None:
    if isinstance(p.node, Node):
        t.nodes[p.node.id] = None


def _node_id(t: _Touched, p: Any) -> None:
    if isinstance(p.node_id, str):
        t.nodes[p.node_id] = None


def _deployment(t: _Touched, p: Any) -> None:
    if isinstance(p.deployment, Deployment):
        t.deployments[p.deployment.id] = None


def _deployment_updates(t: _Touched, p: Any) -> None:
    for u in p.deployment_updates or ():
        t.deployments[u.deployment_id] = None


def _deployment_id(t: _Touched, p: Any) -> None:
    if isinstance(p.deployment_id, str):
        t.deployments[p.deployment_id] = None


def _allocs(t: _Touched, p: Any) -> None:
    allocs = t.allocs
    for a in p.allocs or ():
        allocs[a.id] = None


def _updates(t: _Touched, p: Any) -> None:
    allocs = t.allocs
    for u in p.updates or ():
        allocs[u.id] = None


def _alloc_ids(field: str) -> _Reader:
    def read(t: _Touched, p: Any) -> None:
        for alloc_id in getattr(p, field) or ():
            t.allocs[alloc_id] = None

    return read


def _eval(t: _Touched, p: Any) -> None:
    if isinstance(p.eval, Evaluation):
        t.evals[p.eval.id] = None


def _evals(t: _Touched, p: Any) -> None:
    for e in p.evals or ():
        t.evals[e.id] = None


# (field, reader, other fields the reader needs); the order of _Touched.collect
_FIELD_READERS: tuple[tuple[str, _Reader, tuple[str, ...]], ...] = (
    ("job", _job, ()),
    ("revert_job", _revert_job, ()),
    ("job_stable", _job_stable, ()),
    ("job_id", _job_id, ("namespace",)),
    ("node", _node, ()),
    ("node_id", _node_id, ()),
    ("deployment", _deployment, ()),
    ("deployment_updates", _deployment_updates, ()),
    ("deployment_id", _deployment_id, ()),
    ("allocs", _allocs, ()),
    ("updates", _updates, ()),
    ("healthy", _alloc_ids("healthy"), ()),
    ("unhealthy", _alloc_ids("unhealthy"), ()),
    ("transitions", _alloc_ids("transitions"), ()),
    ("eval", _eval, ()),
    ("evals", _evals, ()),
)
_READERS: dict[type, tuple[_Reader, ...]] = {}


def _readers(p: Any) -> tuple[_Reader, ...]:
    cls = type(p)
    readers = _READERS.get(cls)
    if readers is None:
        readers = tuple(
            read
            for field, read, needs in _FIELD_READERS
            if hasattr(p, field) and all(hasattr(p, n) for n in needs)
        )
        # every Struct of a class has the same attributes; other objects may not
        if isinstance(p, msgspec.Struct):
            _READERS[cls] = readers
    return readers


# -- subscription filters ---------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """Which events a subscriber wants: topic -> keys ("*" is a wildcard for
    both) and a namespace ("*" = all; events without one, like nodes, always pass)."""

    topics: dict[str, frozenset[str]]
    namespace: str = "default"

    @classmethod
    def all(cls, namespace: str = "default") -> EventFilter:
        return cls({"*": frozenset({"*"})}, namespace)

    def allows(self, ev: Event) -> bool:
        if self.namespace != "*" and ev.namespace and ev.namespace != self.namespace:
            return False
        for topic in (ev.topic, "*"):
            keys = self.topics.get(topic)
            if not keys:
                continue
            if "*" in keys or ev.key in keys:
                return True
            if ev.filter_keys and any(k in keys for k in ev.filter_keys):
                return True
        return False

    def select(self, events: Iterable[Event]) -> list[Event]:
        return [e for e in events if self.allows(e)]


# -- the ring buffer --------------------------------------------------------


class EventBuffer:
    """The last `size` event batches, for subscribers in any thread or loop.

    `publish` (Raft thread) appends and wakes async waiters; a waiter is
    registered under the same lock that `publish` takes, so no batch can
    slip between a subscriber's read and its wait.
    """

    def __init__(self, size: int = EVENT_BUFFER_SIZE) -> None:
        self._lock = threading.Lock()
        self._batches: deque[EventBatch] = deque(maxlen=size)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def latest(self) -> int:
        """Index of the newest batch (0 when empty)."""
        with self._lock:
            return self._batches[-1].index if self._batches else 0

    @property
    def oldest(self) -> int:
        with self._lock:
            return self._batches[0].index if self._batches else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._batches)

    def publish(self, index: int, events: list[Event]) -> None:
        if not events:
            return
        with self._lock:
            self._batches.append(EventBatch(index, tuple(events)))
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            # RuntimeError: that subscriber's loop is already closed
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, fut)

    def since(self, index: int) -> list[EventBatch]:
        """Batches with Index >= `index`, oldest first (all that are left when
        `index` is older than the buffer, as Nomad starts at the closest)."""
        with self._lock:
            out: list[EventBatch] = []
            for batch in reversed(self._batches):
                if batch.index < index:
                    break
                out.append(batch)
        out.reverse()
        return out

    def waiter(self, after: int) -> asyncio.Future[None]:
        """A future resolved once a batch newer than `after` is published
        (already resolved if there is one). Call `discard` when done with it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            newest = self._batches[-1].index if self._batches else 0
            if newest > after:
                fut.set_result(None)
            else:
                self._waiters.append((loop, fut))
        return fut

    def discard(self, fut: asyncio.Future[None]) -> None:
        with self._lock:
            self._waiters = [(lp, f) for lp, f in self._waiters if f is not fut]


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
