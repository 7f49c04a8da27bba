"""The GC loop on a real single-node Raft: one GC entry per pass (jobs and
expired tokens together), a fake clock for ages, and a server that stops its
GC loop when it loses leadership."""

from __future__ import annotations

import socket
import time
import uuid

from controlplane.raft.messages import (
    ACLTokenUpsert,
    AllocClientUpdateMsg,
    JobRegister,
    MsgType,
    PlanApply,
)
from controlplane.raft.node import RaftConfig, RaftNode
from controlplane.server.gc import GarbageCollector
from controlplane.server.server import Server, ServerConfig
from controlplane.structs import (
    ACLToken,
    Allocation,
    AllocClientUpdate,
    Evaluation,
    Job,
    Task,
    TaskGroup,
)
from tests.clocks import Clock
from tests.waiting import wait_for

HOURS_S = 3600.0


def _finished_batch_job(raft: RaftNode, job_id: str) -> None:
    """A batch job registered, placed and completed through Raft (real times)."""
    now = time.time_ns()
    job = Job(
        id=job_id,
        type="batch",
        task_groups=[TaskGroup(name="g", tasks=[Task(name="t", driver="mock")])],
    )
    ev = Evaluation(
        id=str(uuid.uuid4()), job_id=job_id, type="batch", status="pending", modify_time=now
    )
    raft.submit(MsgType.JOB_REGISTER, JobRegister(job=job, eval=ev, submit_time=now))
    stored = raft.store.job_by_id("default", job_id)
    alloc = Allocation(id=str(uuid.uuid4()), job_id=job_id, node_id="n", task_group="g", job=stored)
    raft.submit(
        MsgType.PLAN_APPLY, PlanApply(allocs=[alloc], evals=[ev.replace(status="complete")])
    )
    update = AllocClientUpdate(id=alloc.id, client_status="complete", modify_time=now)
    raft.submit(MsgType.ALLOC_CLIENT_UPDATE, AllocClientUpdateMsg(updates=[update]))
    done = raft.store.job_by_id("default", job_id)
    assert done is not None and raft.store.job_status(done) == "dead"


def _expiring_token(raft: RaftNode) -> str:
    token = ACLToken(
        accessor_id=str(uuid.uuid4()),
        secret_id=str(uuid.uuid4()),
        policies=["p"],
        expires_at=time.time_ns() + 60 * 1_000_000_000,
    )
    raft.submit(MsgType.ACL_TOKEN_UPSERT, ACLTokenUpsert(tokens=[token]))
    return token.accessor_id


def test_one_pass_forgets_dead_jobs_and_expired_tokens_in_one_entry(
    raft: RaftNode, clock: Clock
) -> None:
    _finished_batch_job(raft, "nightly")
    accessor = _expiring_token(raft)
    gc = GarbageCollector(raft, raft.store, clock=clock)
    clock.now = time.time()
    assert gc.run_once().jobs == []  # nothing old yet
    before = raft.store.index
    clock.now = time.time() + 5 * HOURS_S
    garbage = gc.run_once()
    assert garbage.jobs == [("default", "nightly")] and garbage.acl_token_ids == [accessor]
    assert raft.store.index == before + 1
    assert raft.store.job_by_id("default", "nightly") is None
    assert raft.store.allocs("*") == [] and raft.store.evals("*") == []
    assert raft.store.acl_token(accessor) is None
    assert raft.store.table_index("jobs", "acl_tokens") == before + 1


def test_a_pass_with_only_expired_tokens_leaves_the_job_tables_alone(
    raft: RaftNode, clock: Clock
) -> None:
    accessor = _expiring_token(raft)
    jobs_index = raft.store.table_index("jobs", "evals", "allocs")
    clock.now = time.time() + 2 * HOURS_S
    assert GarbageCollector(raft, raft.store, clock=clock).run_once().acl_token_ids == [accessor]
    assert raft.store.acl_token(accessor) is None
    # blocking queries on jobs / allocs / evals do not wake for a token GC
    assert raft.store.table_index("jobs", "evals", "allocs") == jobs_index


def test_the_loop_collects_every_period_and_stops(raft: RaftNode, clock: Clock) -> None:
    _finished_batch_job(raft, "nightly")
    clock.now = time.time()
    gc = GarbageCollector(raft, raft.store, clock=clock, period_s=0.02)
    gc.start()
    try:
        assert gc.running
        clock.now += 5 * HOURS_S
        wait_for(lambda: raft.store.job_by_id("default", "nightly") is None, what="periodic GC")
    finally:
        gc.stop()
    wait_for(lambda: not gc.running, what="the GC loop to end")


def test_a_server_that_loses_leadership_stops_its_gc_loop() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(ServerConfig(raft=RaftConfig(self_addr=f"127.0.0.1:{port}")))
    try:
        wait_for(server.is_leader, what="single-node leader")
        wait_for(lambda: server.gc.running, what="the GC loop on the leader")
        # the monitor now sees the Raft leadership gone (as after a partition)
        leading = server._leadership._is_leader
        server._leadership._is_leader = lambda: False
        wait_for(lambda: not server.is_leader(), what="leadership loss")
        wait_for(lambda: not server.gc.running, what="the GC loop to stop")
        # and one loop again on regaining it
        server._leadership._is_leader = leading
        wait_for(lambda: server.gc.running, what="the GC loop back on the leader")
    finally:
        server.shutdown()
