"""Entries bigger than pysyncobj's append batch reach every follower.

pysyncobj sends an entry of at least `appendEntriesBatchSizeBytes` in chunks
and marks the last chunk by comparing against the *command's* length, not the
pickled entry's: for some sizes the `finish` chunk goes out one chunk early,
the follower fails to unpickle a truncated entry: its tick raises, it
stalls for a tick period, and only the next chunk completes the entry. The
control plane raises the batch size so no entry it writes is chunked; this
test writes entries whose sizes fall in that gap and requires every follower
to apply them without a single failed tick.
"""

from __future__ import annotations

import logging

import pytest
from pysyncobj import pickle as ppickle

from controlplane import jobspec
from controlplane.raft.messages import JobRegister, MsgType, encode
from controlplane.raft.node import RaftNode


def _job(job_id: str, pad: int) -> JobRegister:
    body = {"ID": job_id, "Meta": {"pad": "x" * pad}, "TaskGroups": [{"Name": "g", "Tasks": [
        {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}
    return JobRegister(job=jobspec.canonicalize(jobspec.job_from_api(body)), submit_time=1)


def _sizes(job_id: str, pad: int) -> tuple[int, int]:
    """(command, pickled log entry) lengths as pysyncobj builds them for our
    one replicated method: type byte + pickle((func id, args)), then
    pickle((command, index, term))."""
    command = b"\x00" + ppickle.dumps((0, (int(MsgType.JOB_REGISTER), encode(_job(job_id, pad)))))
    return len(command), len(ppickle.dumps((command, 100, 2)))


def _bad_pads(boundary: int) -> list[int]:
    """Paddings whose command ends before `boundary` but whose entry ends after it."""
    base, _ = _sizes("big-00", 0)
    pads = []
    for pad in range(boundary - base - 1024, boundary - base + 64, 4):
        command, entry = _sizes("big-00", pad)
        if command <= boundary < entry:
            pads.append(pad)
    return pads


def test_entries_across_the_chunk_boundary_reach_every_follower(
    cluster: list[RaftNode], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="pysyncobj")
    pads = _bad_pads(2 * 65536)[::8][:12]
    assert pads, "no entry size falls in pysyncobj's chunking gap"
    leader = next(n for n in cluster if n.is_leader())
    for k, pad in enumerate(pads):
        leader.submit(MsgType.JOB_REGISTER, _job(f"big-{k:02d}", pad), timeout=10)
    index = leader.store.index
    for node in cluster:
        assert node.wait_for_index(index, timeout=10), "a follower did not get every entry"
        assert len(node.store.snapshot().jobs()) == len(pads)
    failed = [r.getMessage() for r in caplog.records if r.name.startswith("pysyncobj")]
    assert not failed, failed
