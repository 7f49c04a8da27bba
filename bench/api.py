"""Benchmark: the HTTP API's read paths on a real agent process. Not a test.

One server-only agent (`nomadtui serve -server`, its own process on loopback)
gets `--nodes` simulated client nodes, registered and heartbeating through
`/v1/internal/node/register` from a loader process (tasks are never run), and
`--jobs` raw_exec jobs of `--count` instances each; its own scheduler places
them, so the allocations in the state are real plan results. Then:

1. `GET /v1/allocations` latency (sequential, one keep-alive connection);
2. blocking-query wake-up: processes parked on `GET /v1/jobs?index=N`,
   `GET /v1/job/:id?index=N` and `GET /v1/allocations?prefix=..&index=N`
   (and alloc-filtered lists) while another process writes; printed both
   from the write's response and from its request. The RESULT's wake is the
   `/v1/jobs` one from the request: the single event loop finishes the woken
   list's rebuild before it answers the writer, so "from the response" reads
   about 0 and hides the rebuild;
3. `GET /v1/job/:id` requests/s from several loader processes (keep-alive).

All load comes from separate processes speaking plain http.client: one
Python process of threads saturates long before the agent does.

    .venv/bin/python bench/api.py            # 100,000 allocations (1,000 jobs x 100)
    .venv/bin/python bench/api.py --quick    # 10,000 allocations, under a minute
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

# -- worker processes (this file re-runs itself with --worker NAME) ---------


def _conn(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=600)


def _call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body) if body is not None else None
    conn.request(method, path, data, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{method} {path}: {resp.status} {raw[:200]!r}")
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw


def _node(i: int) -> dict[str, Any]:
    return {
        "ID": str(uuid.uuid4()),
        "SecretID": str(uuid.uuid4()),
        "Name": f"sim-{i}",
        "Datacenter": "dc1",
        "NodeClass": f"class-{i % 4}",
        "Attributes": {
            "kernel.name": "linux",
            "os.name": "ubuntu",
            "unique.network.ip-address": "127.0.0.1",
            "nomad.version": "1.7.0",
        },
        "NodeResources": {
            "Cpu": {"CpuShares": 4_000_000, "TotalCpuCores": 64},
            "Memory": {"MemoryMB": 4_000_000},
            "Disk": {"DiskMB": 4_000_000},
        },
        "Drivers": {"raw_exec": {"Detected": True, "Healthy": True}},
    }


def worker_nodes(port: int, count: int) -> None:
    """Register `count` nodes, say "ready" on stdout, then heartbeat them until killed."""
    conn = _conn(port)
    ids = []
    for i in range(count):
        node = _node(i)
        _call(conn, "PUT", "/v1/internal/node/register", {"Node": node})
        ids.append(node["ID"])
    print("ready", flush=True)
    while True:
        # the TTL is >= 10 s: beating every 4 s keeps every node ready
        time.sleep(4)
        for node_id in ids:
            _call(conn, "PUT", f"/v1/internal/node/{node_id}/heartbeat", {"Status": "ready"})


def _job(job_id: str, count: int) -> dict[str, Any]:
    return {
        "Job": {
            "ID": job_id,
            "Datacenters": ["dc1"],
            "Type": "service",
            "TaskGroups": [
                {
                    "Name": "g",
                    "Count": count,
                    "Tasks": [
                        {
                            "Name": "t",
                            "Driver": "raw_exec",
                            "Config": {"command": "/bin/sleep", "args": ["3600"]},
                            "Resources": {"CPU": 10, "MemoryMB": 10},
                        }
                    ],
                }
            ],
        }
    }


def worker_jobs(port: int, start: int, count: int, per_job: int) -> None:
    conn = _conn(port)
    for i in range(start, start + count):
        _call(conn, "PUT", "/v1/jobs", _job(f"bench-{i:05d}", per_job))


def worker_list(port: int, path: str, n: int) -> None:
    """GET `path` n times; print the latencies (ms) as JSON."""
    conn = _conn(port)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        _call(conn, "GET", path)
        out.append((time.perf_counter() - t0) * 1000)
    print(json.dumps(out), flush=True)


def worker_wait(port: int, path: str) -> None:
    """Park on `path?index=N` again and again until killed; print each answer's
    wall-clock time and X-Nomad-Index as it arrives."""
    conn = _conn(port)
    sep = "&" if "?" in path else "?"
    _, headers, _ = _call(conn, "GET", path)
    index = int(headers["x-nomad-index"])
    print("parked", flush=True)
    while True:
        _, headers, _ = _call(conn, "GET", f"{path}{sep}index={index}&wait=60s")
        index = int(headers["x-nomad-index"])
        print(json.dumps([time.time(), index]), flush=True)


def worker_write(port: int, rounds: int, gap_s: float, alloc_id: str) -> None:
    """`rounds` job registers (count 0: no placement follows), then `rounds`
    client updates of one allocation; print [kind, response time, index] each."""
    conn = _conn(port)
    for i in range(rounds):
        time.sleep(gap_s)
        body = _job("bench-wake", 0)
        body["Job"]["Meta"] = {"round": str(i)}  # a new version each time
        sent = time.time()
        _, _, raw = _call(conn, "PUT", "/v1/jobs", body)
        print(json.dumps(["job", sent, time.time(), json.loads(raw)["Index"]]), flush=True)
    for i in range(rounds):
        time.sleep(gap_s)
        update = {"ID": alloc_id, "ClientStatus": "running", "ClientDescription": f"round {i}"}
        sent = time.time()
        _, _, raw = _call(conn, "PUT", "/v1/internal/allocs/update", {"Allocs": [update]})
        print(json.dumps(["alloc", sent, time.time(), json.loads(raw)["Index"]]), flush=True)


def worker_get(port: int, path: str, seconds: float) -> None:
    """GET `path` as fast as possible for `seconds`; print the count."""
    conn = _conn(port)
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        _call(conn, "GET", path)
        n += 1
    print(n, flush=True)


WORKERS = {
    "nodes": worker_nodes,
    "jobs": worker_jobs,
    "list": worker_list,
    "wait": worker_wait,
    "write": worker_write,
    "get": worker_get,
}


# -- orchestration ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _result(p: subprocess.Popen[str]) -> Any:
    out, _ = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"worker {p.args[3:]} failed with {p.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def _kill(p: subprocess.Popen[Any]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _get_json(port: int, path: str) -> Any:
    conn = _conn(port)
    try:
        return json.loads(_call(conn, "GET", path)[2])
    finally:
        conn.close()


def start_agent(data: str) -> tuple[subprocess.Popen[bytes], int]:
    http_port, rpc_port = _free_port(), _free_port()
    cmd = [
        sys.executable,
        "-m",
        "nomadtui",
        "serve",
        "-server",
        "-data-dir",
        data,
        "-http-port",
        str(http_port),
        "-rpc-port",
        str(rpc_port),
        "-log-level",
        "ERROR",
    ]
    agent = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get_json(http_port, "/v1/status/leader"):
                return agent, http_port
        except (OSError, RuntimeError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    _kill(agent)
    raise RuntimeError("agent did not elect itself leader in 60 s")


def _placed(port: int) -> int:
    total = 0
    for stub in _get_json(port, "/v1/jobs"):
        for tg in (stub.get("JobSummary") or {}).get("Summary", {}).values():
            total += tg["Starting"] + tg["Running"]
    return total


def load(port: int, nodes: int, jobs: int, count: int, writers: int) -> subprocess.Popen[str]:
    t0 = time.perf_counter()
    beats = _spawn("nodes", port, nodes)
    assert beats.stdout is not None
    if beats.stdout.readline().strip() != "ready":
        raise RuntimeError("node registration failed")
    per = -(-jobs // writers)
    ps = [
        _spawn("jobs", port, k * per, min(per, jobs - k * per), count)
        for k in range(writers)
        if k * per < jobs
    ]
    for p in ps:
        if p.wait() != 0:
            raise RuntimeError("job registration failed")
    want = jobs * count
    while (placed := _placed(port)) < want:
        if time.perf_counter() - t0 > 1800:
            raise RuntimeError(f"only {placed}/{want} allocations placed after 30 min")
        time.sleep(1.0)
    took = time.perf_counter() - t0
    print(
        f"load: {nodes} nodes, {jobs} jobs x {count} = {want} allocations placed by the "
        f"agent's scheduler in {took:.1f} s"
    )
    return beats


def bench_allocs_list(port: int, n: int) -> tuple[float, float]:
    lat = _result(_spawn("list", port, "/v1/allocations", n))
    p50, p99 = statistics.median(lat), _pct(lat, 0.99)
    size = len(json.dumps(_get_json(port, "/v1/allocations?prefix=0")))
    print(
        f"GET /v1/allocations: {n} sequential requests, p50 {p50:.0f} ms, p99 {p99:.0f} ms "
        f"(min {min(lat):.0f} ms; a sixteenth of the body is {size / 1e6:.1f} MB)"
    )
    return p50, p99


def bench_wake(port: int, rounds: int) -> tuple[float, float]:
    # the job exists before anyone parks on it
    conn = _conn(port)
    _call(conn, "PUT", "/v1/jobs", _job("bench-wake", 0))
    conn.close()
    alloc = _get_json(port, "/v1/job/bench-00000/allocations")[0]
    paths = {
        "/v1/jobs": ("job", "/v1/jobs"),
        "/v1/jobs?prefix=": ("job", "/v1/jobs?prefix=bench-wake"),
        "/v1/job/:id": ("job", "/v1/job/bench-wake"),
        "/v1/allocations?prefix=": ("alloc", f"/v1/allocations?prefix={alloc['ID'][:8]}"),
        "/v1/node/:id/allocations": ("alloc", f"/v1/node/{alloc['NodeID']}/allocations"),
    }
    waiters = {name: _spawn("wait", port, path) for name, (_, path) in paths.items()}
    for p in waiters.values():
        assert p.stdout is not None
        if p.stdout.readline().strip() != "parked":
            raise RuntimeError("waiter failed")
    time.sleep(0.5)  # let the waiters' blocking requests reach the agent
    writer = _spawn("write", port, rounds, 0.2, alloc["ID"])
    out, _ = writer.communicate()
    writes = [json.loads(line) for line in out.splitlines()]
    time.sleep(1.0)  # the last wakes
    headline: list[float] = []
    for name, p in waiters.items():
        _kill(p)
        assert p.stdout is not None
        wakes = [json.loads(line) for line in p.stdout.read().splitlines()]
        kind = paths[name][0]
        lat, full = [], []
        for k, sent, at, index in writes:
            woke = [t for t, i in wakes if i >= index]
            if k == kind and woke:
                lat.append((min(woke) - at) * 1000)
                full.append((min(woke) - sent) * 1000)
        print(
            f"wake-up of GET {name} ?index=N after a {kind} write: from the write's "
            f"response p50 {statistics.median(lat):.1f} ms, p99 {_pct(lat, 0.99):.1f} ms; "
            f"from its request p50 {statistics.median(full):.1f} ms, "
            f"p99 {_pct(full, 0.99):.1f} ms ({len(lat)} writes)"
        )
        if name == "/v1/jobs":
            # from the request: the agent answers the writer only after the
            # rebuild of the woken list, so "from the response" reads ~0
            headline = full
    return statistics.median(headline), _pct(headline, 0.99)


def bench_job_get(port: int, clients: int, seconds: float) -> float:
    ps = [_spawn("get", port, "/v1/job/bench-00000", seconds) for _ in range(clients)]
    total = sum(int(_result(p)) for p in ps)
    rps = total / seconds
    print(f"GET /v1/job/:id: {rps:.0f} requests/s ({clients} client processes, keep-alive)")
    return rps


def _arg(raw: str) -> Any:
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        fn: Any = WORKERS[sys.argv[2]]
        fn(*map(_arg, sys.argv[3:]))
        return
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10,000 allocations (< 60 s)")
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--count", type=int, default=100, help="allocations per job")
    ap.add_argument("--clients", type=int, default=4, help="loader processes for job reads")
    ap.add_argument("--keep", action="store_true", help="leave the agent running (profiling)")
    args = ap.parse_args()
    jobs = args.jobs or (100 if args.quick else 1000)
    nodes = args.nodes or (50 if args.quick else 500)
    with tempfile.TemporaryDirectory() as data:
        agent, port = start_agent(data)
        print(f"agent pid {agent.pid} on http://127.0.0.1:{port}", flush=True)
        beats = None
        try:
            beats = load(port, nodes, jobs, args.count, writers=4)
            p50, p99 = bench_allocs_list(port, 10 if args.quick else 20)
            w50, w99 = bench_wake(port, 20 if args.quick else 50)
            rps = bench_job_get(port, args.clients, 3.0 if args.quick else 10.0)
            print(
                f"RESULT allocs_list_p50_ms={p50:.0f} allocs_list_p99_ms={p99:.0f} "
                f"wake_p50_ms={w50:.1f} wake_p99_ms={w99:.1f} job_get_rps={rps:.0f}"
            )
            if args.keep:
                print("--keep: agent left running; Ctrl-C to stop", flush=True)
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            if beats is not None:
                _kill(beats)
            _kill(agent)


if __name__ == "__main__":
    main()
