"""Benchmark: leader failover of a 3-server cluster (real processes on loopback).

Each trial starts three `nomadtui serve -server` processes, registers a job,
SIGKILLs the leader and measures the time until a surviving server accepts
the next job registration. Prints p50 / max over the trials. Not a test.

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
    times = []
    for i in range(args.trials):
        with tempfile.TemporaryDirectory() as data:
            t = trial(data)
        times.append(t)
        print(f"trial {i + 1}: first write accepted {t:.2f} s after SIGKILL of the leader")
    print(f"failover over {len(times)} trials: p50 {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s")


if __name__ == "__main__":
    main()
