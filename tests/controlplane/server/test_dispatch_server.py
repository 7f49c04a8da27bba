"""Dispatch of parameterized jobs on a real single-node Raft: validation (Nomad's
messages), the child's shape, idempotency tokens decided by the FSM."""

from __future__ import annotations

import asyncio
import base64
import re
from types import SimpleNamespace
from typing import Any

import pytest

from controlplane.errors import NotFound, ValidationError
from controlplane.raft.messages import JobDispatch, JobRegister, MsgType
from controlplane.raft.node import RaftNode
from controlplane.server.dispatch import derive_child, dispatch_job
from controlplane.structs import Job, ParameterizedJobConfig, Task, TaskGroup


def _parent(payload: str = "optional", **cfg: Any) -> Job:
    return Job(
        id="render",
        type="batch",
        meta={"team": "a"},
        parameterized_job=ParameterizedJobConfig(payload=payload, **cfg),
        task_groups=[TaskGroup(name="g", tasks=[Task(name="t", driver="mock")])],
    )


def _dispatch(raft: RaftNode, job_id: str = "render", **kw: Any) -> dict[str, Any]:
    server: Any = SimpleNamespace(store=raft.store, raft=raft)
    args = {"payload": b"", "meta": {}, **kw}
    return asyncio.run(dispatch_job(server, "default", job_id, **args))


def _register(raft: RaftNode, job: Job) -> None:
    raft.submit(MsgType.JOB_REGISTER, JobRegister(job=job, submit_time=1))


def test_dispatch_creates_a_child_with_payload_meta_and_an_eval(raft: RaftNode) -> None:
    _register(raft, _parent(meta_optional=["color"]))
    out = _dispatch(raft, payload=b"hello", meta={"color": "red"})
    child_id = out["DispatchedJobID"]
    assert re.fullmatch(r"render/dispatch-\d+-[0-9a-f]{8}", child_id)
    child = raft.store.job_by_id("default", child_id)
    assert child is not None
    assert child.parent_id == "render" and child.dispatched and child.name == child_id
    assert base64.b64decode(child.payload or "") == b"hello"
    assert child.meta == {"team": "a", "color": "red"}
    (ev,) = raft.store.evals_by_job("default", child_id)
    assert out["EvalID"] == ev.id and ev.triggered_by == "job-register"
    assert out["JobCreateIndex"] == child.create_index
    # the parent is not re-evaluated, the child is: statuses as Nomad's
    parent = raft.store.job_by_id("default", "render")
    assert parent is not None
    assert raft.store.job_status(parent) == "running"
    assert raft.store.job_status(child) == "pending"
    summary = raft.store.job_summary("default", "render")
    assert summary is not None and summary.children.pending == 1


def test_id_prefix_template_goes_after_dispatch(raft: RaftNode) -> None:
    _register(raft, _parent())
    out = _dispatch(raft, id_prefix_template="nightly")
    assert re.fullmatch(r"render/dispatch-nightly-\d+-[0-9a-f]{8}", out["DispatchedJobID"])


def test_idempotency_token_returns_the_same_child(raft: RaftNode) -> None:
    _register(raft, _parent())
    first = _dispatch(raft, token="t-1")
    again = _dispatch(raft, token="t-1")
    other = _dispatch(raft, token="t-2")
    assert again["DispatchedJobID"] == first["DispatchedJobID"] and again["EvalID"] == ""
    assert other["DispatchedJobID"] != first["DispatchedJobID"]
    assert len(raft.store.job_children("default", "render")) == 2


def test_the_fsm_decides_between_concurrent_retries(raft: RaftNode) -> None:
    # two leaders' worth of checks passed; the log keeps the first child only
    parent = _parent()
    _register(raft, parent)
    a = derive_child(parent, b"", {}, "", "tok", 100)
    b = derive_child(parent, b"", {}, "", "tok", 101)
    ra = raft.submit(MsgType.JOB_DISPATCH, JobDispatch(job=a))
    rb = raft.submit(MsgType.JOB_DISPATCH, JobDispatch(job=b))
    assert ra.data["DispatchedJobID"] == a.id
    assert rb.data == {"DispatchedJobID": a.id, "JobCreateIndex": ra.index, "Existing": True}
    assert raft.store.job_by_id("default", b.id) is None


@pytest.mark.parametrize(
    ("cfg", "kw", "message"),
    [
        (
            {"payload": "required"},
            {},
            "Payload is not provided but required by parameterized job",
        ),
        (
            {"payload": "forbidden"},
            {"payload": b"x"},
            "Payload provided but forbidden by parameterized job",
        ),
        ({}, {"payload": b"x" * 16385}, "Payload exceeds maximum size; 16385 > 16384"),
        (
            {"meta_required": ["a", "b"]},
            {"meta": {"a": "1"}},
            r"Dispatch did not provide required meta keys: \[b\]",
        ),
        (
            {"meta_optional": ["a"]},
            {"meta": {"z": "1", "y": "2"}},
            r"Dispatch request included unpermitted metadata keys: \[y z\]",
        ),
    ],
)
def test_invalid_dispatches_are_refused(
    raft: RaftNode, cfg: dict[str, Any], kw: dict[str, Any], message: str
) -> None:
    _register(raft, _parent(**cfg))
    with pytest.raises(ValidationError, match=message):
        _dispatch(raft, **kw)
    assert raft.store.job_children("default", "render") == []


def test_only_live_parameterized_parents_dispatch(raft: RaftNode) -> None:
    with pytest.raises(NotFound, match="parameterized job not found"):
        _dispatch(raft, job_id="nope")
    _register(raft, Job(id="plain", type="batch", task_groups=[TaskGroup(name="g")]))
    with pytest.raises(ValidationError, match='Specified job "plain" is not a parameterized job'):
        _dispatch(raft, job_id="plain")
    _register(raft, _parent().replace(stop=True))
    with pytest.raises(ValidationError, match='Specified job "render" is stopped'):
        _dispatch(raft)
