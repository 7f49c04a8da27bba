"""Which objects an entry's events look at: the per-message-type field readers
of events._Touched find what probing every payload field name finds, for
every Raft message type."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec

from controlplane.raft import messages as m
from controlplane.state.events import _Touched
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Deployment,
    DeploymentStatusUpdate,
    DesiredTransition,
    Evaluation,
    Job,
    Node,
)

_JOB = Job(id="j1", namespace="ns1")


def _probe_every_name(p: Any) -> _Touched:
    """What `_Touched.collect` found before it read per type (reference)."""
    t = _Touched()
    for field in ("job", "revert_job"):
        job = getattr(p, field, None)
        if isinstance(job, Job):
            t.jobs[(job.namespace, job.id)] = None
    stable = getattr(p, "job_stable", None)
    if stable is not None:
        t.jobs[(stable.namespace, stable.job_id)] = None
    if isinstance(getattr(p, "job_id", None), str) and hasattr(p, "namespace"):
        t.jobs[(p.namespace, p.job_id)] = None
    node = getattr(p, "node", None)
    if isinstance(node, Node):
        t.nodes[node.id] = None
    if isinstance(getattr(p, "node_id", None), str):
        t.nodes[p.node_id] = None
    dep = getattr(p, "deployment", None)
    if isinstance(dep, Deployment):
        t.deployments[dep.id] = None
    for u in getattr(p, "deployment_updates", None) or ():
        t.deployments[u.deployment_id] = None
    if isinstance(getattr(p, "deployment_id", None), str):
        t.deployments[p.deployment_id] = None
    for a in getattr(p, "allocs", None) or ():
        t.allocs[a.id] = None
    for u in getattr(p, "updates", None) or ():
        t.allocs[u.id] = None
    for field in ("healthy", "unhealthy", "transitions"):
        for alloc_id in getattr(p, field, None) or ():
            t.allocs[alloc_id] = None
    ev = getattr(p, "eval", None)
    if isinstance(ev, Evaluation):
        t.evals[ev.id] = None
    for e in getattr(p, "evals", None) or ():
        t.evals[e.id] = None
    return t


def _populated(cls: type[msgspec.Struct]) -> list[msgspec.Struct]:
    """Instances of a message type with every field that names objects set."""
    values: dict[str, Any] = {
        "job": _JOB,
        "revert_job": Job(id="j0", namespace="ns0"),
        "job_stable": m.JobStable(namespace="ns2", job_id="j2", version=1),
        "job_id": "j3",
        "namespace": "ns3",
        "node": Node(id="n1"),
        "node_id": "n2",
        "deployment": Deployment(id="d1"),
        "deployment_updates": [DeploymentStatusUpdate(deployment_id="d2")],
        "deployment_id": "d3",
        "allocs": [Allocation(id="a1"), Allocation(id="a2"), Allocation(id="a1")],
        "updates": [AllocClientUpdate(id="a3"), AllocClientUpdate(id="a2")],
        "healthy": ["a4", "a1"],
        "unhealthy": ["a5"],
        "transitions": {"a6": DesiredTransition(migrate=True)},
        "eval": Evaluation(id="e1"),
        "evals": [Evaluation(id="e2"), Evaluation(id="e1")],
    }
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    given = {k: v for k, v in values.items() if k in fields}
    required = [
        f.name
        for f in fields.values()
        if f.default is msgspec.NODEFAULT and f.default_factory is msgspec.NODEFAULT
    ]
    # other required fields are not read: Struct construction does not check types
    filler = {name: None for name in required if name not in given}
    full = cls(**given, **filler)
    # and one with only what it requires (empty lists, None objects)
    bare = cls(**{k: v for k, v in {**given, **filler}.items() if k in required})
    return [full, bare]


def _found(t: _Touched) -> tuple[list[Any], ...]:
    return (list(t.jobs), list(t.nodes), list(t.allocs), list(t.deployments), list(t.evals))


def test_every_message_type_finds_what_probing_every_name_finds() -> None:
    checked = 0
    for cls in {c for c in m.PAYLOADS.values()}:
        for payload in _populated(cls):
            t = _Touched()
            t.collect(payload)
            assert _found(t) == _found(_probe_every_name(payload)), cls.__name__
            checked += 1
    assert checked >= 2 * 25


def test_plain_objects_are_read_by_their_own_attributes() -> None:
    # not a Struct: its readers are found per object, never cached by type
    with_job = SimpleNamespace(job=_JOB, evals=[Evaluation(id="e9")])
    bare = SimpleNamespace(node_id="n7")
    for p in (with_job, bare, with_job):
        t = _Touched()
        t.collect(p)
        assert _found(t) == _found(_probe_every_name(p))
