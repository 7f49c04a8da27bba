"""Concurrent writes are sent to followers once.

pysyncobj moves the leader's next index for a follower back to the
follower's log end on every acknowledgement; with writes in flight the
leader then sends entries again, and the follower truncates and re-appends
entries it has already applied, logging "truncating already-applied log
entries" at CRITICAL. RaftNode keeps the next index optimistic, as Raft does.
"""

from __future__ import annotations

import logging
import threading

import pytest

from controlplane.raft.messages import EvalUpsert, MsgType
from controlplane.raft.node import RaftNode
from controlplane.structs import Evaluation


def test_concurrent_writes_never_truncate_applied_entries(
    cluster: list[RaftNode], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pysyncobj")
    leader = next(n for n in cluster if n.is_leader())

    def write(k: int) -> None:
        for i in range(150):
            ev = Evaluation(id=f"e-{k}-{i}", job_id=f"j{k}", status="complete")
            leader.submit(MsgType.EVAL_UPSERT, EvalUpsert(evals=[ev]), timeout=10)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    index = leader.store.index
    for node in cluster:
        assert node.wait_for_index(index, timeout=10)
    truncated = [r.getMessage() for r in caplog.records if "truncating" in r.getMessage()]
    assert not truncated, f"{len(truncated)} truncations, e.g. {truncated[0]}"
