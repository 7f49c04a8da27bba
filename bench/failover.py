"""Benchmark: leader failover of a 3-server cluster (real processes on loopback).

Each trial starts three `nomadtui serve -server` processes, registers a job,
SIGKILLs the leader and measures the time until a surviving server accepts
the next job registration. Then the same with raw pysyncobj objects built
with the control plane's own SyncObjConf (controlplane.raft.node._sync_conf):
SIGKILL the leader, time until a survivor commits a write. Prints p50 / max
of both over the trials. Not a test.

    .venv/bin/python bench/failover.py [--trials 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _job(job_id: str) -> dict[str, object]:
    return {"Job": {"ID": job_id, "TaskGroups": [{"Name": "g", "Count": 0, "Tasks": [
        {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}}


def _wait(cond: object, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError("cluster did not get ready")


RAW_NODE = r"""
import os, sys, time
from pysyncobj import SyncObj, replicated
from controlplane.raft.node import RaftConfig, _sync_conf
class Store(SyncObj):
    @replicated
    def put(self, value):
        return value
me, others, data, flag = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
s = Store(me, others, _sync_conf(RaftConfig(self_addr=me, peers=others, data_dir=data)))
while not os.path.exists(flag):
    leader = s._getLeader()
    if leader is not None and s.put(me, sync=True, timeout=1.0) == me:
        print("leader", leader.address, flush=True)
        break
    time.sleep(0.01)
while not os.path.exists(flag):
    time.sleep(0.005)
while True:
    try:
        s.put(me, sync=True, timeout=0.5)
    except Exception:
        continue
    print("committed", time.time(), flush=True)
    break
time.sleep(3600)  # stay up: a survivor leaving would cost the other its majority
"""


def raw_trial(data: str) -> float:
    addrs = [f"127.0.0.1:{_port()}" for _ in range(3)]
    flag = os.path.join(data, "go")
    procs = []
    for i, me in enumerate(addrs):
        others = ",".join(a for a in addrs if a != me)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", RAW_NODE, me, others, os.path.join(data, f"r{i}"), flag],
            stdout=subprocess.PIPE, text=True, start_new_session=True))
    try:
        leaders = {p.stdout.readline().split()[1] for p in procs if p.stdout}
        assert len(leaders) == 1, leaders
        victim = addrs.index(leaders.pop())
        os.killpg(procs[victim].pid, signal.SIGKILL)
        start = time.time()
        open(flag, "w").close()
        done = [float(p.stdout.readline().split()[1])
                for i, p in enumerate(procs) if i != victim and p.stdout]
        return min(done) - start
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def trial(data: str) -> float:
    rpc = [_port() for _ in range(3)]
    http = [_port() for _ in range(3)]
    join = ",".join(f"127.0.0.1:{p}" for p in rpc)
    procs = []
    for i in range(3):
        cmd = [sys.executable, "-m", "nomadtui", "serve", "-server", "-data-dir",
               os.path.join(data, f"s{i}"), "-node", f"s{i}", "-retry-join", join,
               "-http-port", str(http[i]), "-rpc-port", str(rpc[i]), "-log-level", "ERROR"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{http[0]}/v1/status/leader").json(), 30)
        assert httpx.put(f"http://127.0.0.1:{http[0]}/v1/jobs", json=_job("a")).status_code == 200
        leader = httpx.get(f"http://127.0.0.1:{http[0]}/v1/status/leader").json()
        victim = rpc.index(int(leader.rsplit(":", 1)[1]))
        survivor = http[(victim + 1) % 3]
        os.killpg(procs[victim].pid, signal.SIGKILL)
        start = time.monotonic()
        while True:
            try:
                r = httpx.put(f"http://127.0.0.1:{survivor}/v1/jobs", json=_job("b"), timeout=15)
                if r.status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    ours, raw = [], []
    for i in range(args.trials):
        with tempfile.TemporaryDirectory() as data:
            t = trial(data)
        with tempfile.TemporaryDirectory() as data:
            r = raw_trial(data)
        ours.append(t)
        raw.append(r)
        print(f"trial {i + 1}: first write accepted {t:.2f} s after SIGKILL of the leader "
              f"(raw pysyncobj, same SyncObjConf: {r:.2f} s)")
    print(f"failover over {len(ours)} trials: p50 {statistics.median(ours):.2f} s, "
          f"max {max(ours):.2f} s")
    print(f"raw pysyncobj, same configuration: p50 {statistics.median(raw):.2f} s, "
          f"max {max(raw):.2f} s")
    print(f"RESULT failover_p50_s={statistics.median(ours):.2f} failover_max_s={max(ours):.2f} "
          f"raw_p50_s={statistics.median(raw):.2f} raw_max_s={max(raw):.2f}")


if __name__ == "__main__":
    main()
