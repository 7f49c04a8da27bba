"""Group commit: lone writes go out plain, concurrent ones share a BATCH entry
applied in order by the real FSM, each writer getting its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pysyncobj import FAIL_REASON

from controlplane.errors import Conflict, InternalError
from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM, ApplyResult
from controlplane.raft.group_commit import GroupCommitter
from controlplane.raft.node import _result
from controlplane.state import StateStore
from controlplane.structs import Job, Task, TaskGroup


def _job(job_id: str) -> Job:
    task = Task(name="t", driver="raw_exec", config={"command": "/bin/true"})
    return Job(id=job_id, name=job_id, task_groups=[TaskGroup(name="g", count=1, tasks=[task])])


def _register(job_id: str, enforce: bool = False, index: int = 0) -> bytes:
    msg = m.JobRegister(job=_job(job_id), enforce_index=enforce, job_modify_index=index)
    return m.encode(msg)


class _Raft:
    """Records entries; commits them through a real FSM when told to."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fsm = FSM(StateStore())
        self.entries: list[tuple[int, bytes, Callable[[Any, int], None]]] = []
        self.index = 0

    def apply(self, msg_type: int, payload: bytes, callback: Callable[[Any, int], None]) -> None:
        self.entries.append((msg_type, payload, callback))

    def commit_next(self, err: int = FAIL_REASON.SUCCESS) -> None:
        msg_type, payload, callback = self.entries.pop(0)
        self.index += 1
        result = self.fsm.apply(self.index, msg_type, payload) if err == 0 else None
        callback(result, err)


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_lone_write_is_a_plain_entry() -> None:
    raft = _Raft(asyncio.get_running_loop())
    gc = GroupCommitter(raft.loop, raft.apply)
    fut = gc.submit(int(m.MsgType.JOB_REGISTER), _register("a"))
    assert [e[0] for e in raft.entries] == [m.MsgType.JOB_REGISTER]
    raft.commit_next()
    result, err = await fut
    assert err == FAIL_REASON.SUCCESS and result.index == 1 and result.batch is None


async def test_writes_behind_a_full_pipeline_share_one_batch_entry() -> None:
    raft = _Raft(asyncio.get_running_loop())
    gc = GroupCommitter(raft.loop, raft.apply, max_in_flight=1)
    first = gc.submit(int(m.MsgType.JOB_REGISTER), _register("a"))
    # "b" is created by the batch's first entry, so the third must conflict
    later = [
        gc.submit(int(m.MsgType.JOB_REGISTER), _register("b")),
        gc.submit(int(m.MsgType.JOB_REGISTER), _register("c")),
        gc.submit(int(m.MsgType.JOB_REGISTER), _register("b", enforce=True, index=0)),
    ]
    assert len(raft.entries) == 1  # only "a" in flight
    raft.commit_next()
    await first
    await _settle()
    assert [e[0] for e in raft.entries] == [m.MsgType.BATCH]
    raft.commit_next()
    outcomes = [await f for f in later]
    assert [r.index for r, _ in outcomes] == [2, 2, 2]
    assert _result(*outcomes[0]).index == 2 and _result(*outcomes[1]).index == 2
    with pytest.raises(Conflict, match="job already exists"):
        _result(*outcomes[2])
    store = raft.fsm.store
    assert {j.id for j in store.snapshot().jobs()} == {"a", "b", "c"}
    assert store.index == 2


async def test_a_failed_batch_fails_every_writer_in_it() -> None:
    raft = _Raft(asyncio.get_running_loop())
    gc = GroupCommitter(raft.loop, raft.apply, max_in_flight=1)
    gc.submit(int(m.MsgType.JOB_REGISTER), _register("a"))
    futs = [gc.submit(int(m.MsgType.JOB_REGISTER), _register(f"j{i}")) for i in range(3)]
    raft.commit_next()
    await _settle()
    raft.commit_next(err=FAIL_REASON.LEADER_CHANGED)
    assert [await f for f in futs] == [(None, FAIL_REASON.LEADER_CHANGED)] * 3


async def test_an_entry_that_never_commits_releases_its_slot() -> None:
    raft = _Raft(asyncio.get_running_loop())
    gc = GroupCommitter(raft.loop, raft.apply, max_in_flight=1, expire_s=0.05)
    gc.submit(int(m.MsgType.JOB_REGISTER), _register("lost"))
    queued = gc.submit(int(m.MsgType.JOB_REGISTER), _register("next"))
    assert len(raft.entries) == 1
    for _ in range(500):  # the expiry timer (50 ms) frees the slot
        if len(raft.entries) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(raft.entries) == 2
    raft.entries.pop(0)  # the lost write's callback never fires
    raft.commit_next()
    result, err = await queued
    assert err == FAIL_REASON.SUCCESS and isinstance(result, ApplyResult)


def test_fsm_batch_applies_in_order_at_one_index() -> None:
    fsm = FSM(StateStore())
    batch = m.Batch(
        [
            m.BatchEntry(int(m.MsgType.JOB_REGISTER), _register("x")),
            m.BatchEntry(999, b"junk"),  # unknown type: its own error, others unaffected
            m.BatchEntry(int(m.MsgType.JOB_REGISTER), _register("y")),
        ]
    )
    result = fsm.apply(7, int(m.MsgType.BATCH), m.encode(batch))
    assert result.batch is not None
    assert [bool(r.error) for r in result.batch] == [False, True, False]
    snap = fsm.store.snapshot()
    assert snap.index == 7
    assert {j.id: j.modify_index for j in snap.jobs()} == {"x": 7, "y": 7}


def test_a_discarded_entry_says_leadership_was_lost() -> None:
    # pysyncobj DISCARDED: the entry's term ended before it committed
    with pytest.raises(InternalError, match="leadership lost while committing log"):
        _result(None, FAIL_REASON.DISCARDED)
