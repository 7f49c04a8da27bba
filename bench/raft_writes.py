"""Benchmark: Raft write latency through the FSM on a single (dev-mode) server.

Prints p50 / p99 latency of one-at-a-time writes (a job register each) and
the rate of pipelined writes. Not a test: run it by hand.

    .venv/bin/python bench/raft_writes.py [--writes 500] [--tick 0.005]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

from controlplane.raft.messages import JobRegister, MsgType, encode
from controlplane.raft.node import RaftConfig, RaftNode
from controlplane.state import StateStore
from controlplane.structs import Job, Task, TaskGroup


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _job(i: int) -> Job:
    return Job(id=f"bench-{i}", task_groups=[TaskGroup(name="g", tasks=[Task(name="t")])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--writes", type=int, default=500)
    ap.add_argument("--tick", type=float, default=0.005, help="dev-mode autoTickPeriod (s)")
    args = ap.parse_args()

    store = StateStore()
    node = RaftNode(store, RaftConfig(self_addr=f"127.0.0.1:{_port()}", tick_s=args.tick))
    while not node.is_leader():
        time.sleep(0.01)

    lat = []
    for i in range(args.writes):
        t0 = time.perf_counter()
        node.submit(MsgType.JOB_REGISTER, JobRegister(job=_job(i), submit_time=i))
        lat.append(time.perf_counter() - t0)
    lat.sort()
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    print(f"sequential writes: {args.writes}  p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
          f"{args.writes / sum(lat):.0f} writes/s (tick {args.tick}s)")

    done = threading.Event()
    remaining = [args.writes]
    lock = threading.Lock()

    def cb(_result: object, _err: int) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

    t0 = time.perf_counter()
    for i in range(args.writes):
        payload = encode(JobRegister(job=_job(args.writes + i), submit_time=i))
        node._obj.apply(int(MsgType.JOB_REGISTER), payload, callback=cb)
    done.wait(60)
    dt = time.perf_counter() - t0
    print(f"pipelined writes: {args.writes} in {dt:.2f} s  {args.writes / dt:.0f} writes/s")
    node.destroy()


if __name__ == "__main__":
    main()
