"""Benchmark: job registrations per second through a 3-server cluster, next to
raw pysyncobj `@replicated` calls of the same payload size in the same run.

Three figures, each from three server processes on loopback with batching
off (as the control plane configures it) and `--clients` writers each
writing one at a time:

- ours: `PUT /v1/jobs` through the cluster (separate loader processes on
  keep-alive connections), every registration decoded, validated, committed
  and evaluated;
- raw over HTTP: the same loaders and bodies against a pysyncobj leader
  behind the same HTTP stack (uvicorn + httptools + uvloop, one Starlette
  route) that JSON-decodes the body and commits it with one `@replicated`
  call: what the transport and Raft alone cost, the like-for-like baseline;
- raw in-process: `@replicated` calls from threads inside the leader, no
  HTTP at all (no HTTP server in Python comes near it).

Not a test.

    .venv/bin/python bench/commit_throughput.py [--writes 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx

RAW_NODE = r"""
import sys, time
from pysyncobj import SyncObj, SyncObjConf, replicated
class Store(SyncObj):
    def __init__(self, me, others):
        self.n = 0
        super().__init__(me, others, SyncObjConf(appendEntriesUseBatch=False,
            appendEntriesPeriod=0.05, raftMinTimeout=0.3, raftMaxTimeout=1.0,
            connectionTimeout=3600.0, bindAddress=me))
        self.__dict__["n"] = 0
    @replicated
    def put(self, payload):
        self.n += 1
        return self.n
me, others = sys.argv[1], sys.argv[2].split(",")
writes, clients, size = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
http_port = int(sys.argv[6]) if len(sys.argv) > 6 else 0
s = Store(me, others)
if http_port:
    # the raw baseline behind the control plane's HTTP stack
    import asyncio, json
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def register(request):
        body = json.loads(await request.body())
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def done(result, err):
            loop.call_soon_threadsafe(fut.set_result, (result, err))

        s.put(json.dumps(body).encode(), callback=done)
        result, err = await asyncio.wait_for(fut, 5)
        if err != 0:
            return JSONResponse({"error": err}, status_code=503)
        return JSONResponse({"Index": result})

    async def leader(request):
        return JSONResponse("ok" if s._isLeader() else "")

    app = Starlette(routes=[Route("/v1/jobs", register, methods=["PUT"]),
                            Route("/v1/status/leader", leader)])
    uvicorn.run(app, host="127.0.0.1", port=http_port, log_level="warning", lifespan="off",
                access_log=False)
elif writes:
    while not s._isReady() or s._getLeader() is None:
        time.sleep(0.01)
    import threading
    payload = b"x" * size
    def work(k):
        for _ in range(k):
            s.put(payload, sync=True, timeout=30)
    per = writes // clients
    t0 = time.perf_counter()
    ts = [threading.Thread(target=work, args=(per,)) for _ in range(clients)]
    [t.start() for t in ts]; [t.join() for t in ts]
    print(per * clients / (time.perf_counter() - t0), flush=True)
else:
    time.sleep(3600)
"""


LOADER = r"""
import http.client, json, sys
host, port = sys.argv[1].removeprefix("http://").split(":")
start, count = int(sys.argv[2]), int(sys.argv[3])
conn = http.client.HTTPConnection(host, int(port))
for i in range(start, start + count):
    body = json.dumps({"Job": {"ID": f"bench-{i}", "TaskGroups": [{"Name": "g", "Count": 0,
        "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}})
    conn.request("PUT", "/v1/jobs", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200, resp.status
"""


def _ports(n: int) -> list[int]:
    out = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.append(s.getsockname()[1])
    return out


def _kill(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def raw(writes: int, clients: int, size: int) -> float:
    ports = _ports(3)
    addrs = [f"127.0.0.1:{p}" for p in ports]
    procs = []
    for i in range(1, 3):
        others = ",".join(a for a in addrs if a != addrs[i])
        procs.append(subprocess.Popen([sys.executable, "-c", RAW_NODE, addrs[i], others, "0",
                                       "1", str(size)], start_new_session=True))
    others = ",".join(addrs[1:])
    try:
        out = subprocess.run([sys.executable, "-c", RAW_NODE, addrs[0], others, str(writes),
                              str(clients), str(size)], capture_output=True, text=True,
                             timeout=600)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        _kill(procs)


def _load(target: str, writes: int, clients: int) -> float:
    """Registrations/s of `clients` loader processes sending `writes` in all."""
    per = writes // clients
    # the load comes from separate processes speaking plain http.client:
    # one Python process of httpx threads saturates long before the servers
    t0 = time.perf_counter()
    loaders = [
        subprocess.Popen([sys.executable, "-c", LOADER, target, str(k * per), str(per)])
        for k in range(clients)
    ]
    for p in loaders:
        p.wait()
    if any(p.returncode for p in loaders):
        raise SystemExit("a loader failed (see above)")
    return per * clients / (time.perf_counter() - t0)


def _body_size() -> int:
    return len(json.dumps({"Job": {"ID": "bench-0", "TaskGroups": [{"Name": "g", "Count": 0,
        "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}}))


def cluster(writes: int, clients: int, data: str) -> float:
    rpc, http = _ports(3), _ports(3)
    join = ",".join(f"127.0.0.1:{p}" for p in rpc)
    procs = [
        subprocess.Popen([sys.executable, "-m", "nomadtui", "serve", "-server", "-data-dir",
                          os.path.join(data, f"s{i}"), "-node", f"s{i}", "-retry-join", join,
                          "-http-port", str(http[i]), "-rpc-port", str(rpc[i]),
                          "-log-level", "ERROR"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
        for i in range(3)
    ]
    try:
        base = f"http://127.0.0.1:{http[0]}"
        while True:
            try:
                leader = httpx.get(f"{base}/v1/status/leader").json()
                if leader:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        target = f"http://127.0.0.1:{http[rpc.index(int(leader.rsplit(':', 1)[1]))]}"
        return _load(target, writes, clients)
    finally:
        _kill(procs)


def raw_http(writes: int, clients: int, size: int) -> float:
    """The loaders against pysyncobj behind the same HTTP stack (every node serves HTTP)."""
    ports, http = _ports(3), _ports(3)
    addrs = [f"127.0.0.1:{p}" for p in ports]
    procs = [
        subprocess.Popen([sys.executable, "-c", RAW_NODE, addrs[i],
                          ",".join(a for a in addrs if a != addrs[i]), "0", "1", str(size),
                          str(http[i])], start_new_session=True)
        for i in range(3)
    ]
    try:
        while True:
            for port in http:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v1/status/leader").json():
                        return _load(f"http://127.0.0.1:{port}", writes, clients)
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
    finally:
        _kill(procs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    size = _body_size()
    with tempfile.TemporaryDirectory() as data:
        ours = cluster(args.writes, args.clients, data)
    over_http = raw_http(args.writes, args.clients, size)
    theirs = raw(args.writes, args.clients, size)
    print(f"job registrations through the 3-server cluster: {ours:.0f}/s "
          f"({args.clients} clients, {size}-byte bodies)")
    print(f"raw pysyncobj @replicated behind the same HTTP stack: {over_http:.0f}/s "
          f"(ratio {ours / over_http:.2f}, target >= 0.8)")
    print(f"raw pysyncobj @replicated in-process, no HTTP:        {theirs:.0f}/s "
          f"(ratio {ours / theirs:.2f})")
    print(f"RESULT registrations_per_s={ours:.0f} raw_http_per_s={over_http:.0f} "
          f"raw_per_s={theirs:.0f} ratio_http={ours / over_http:.2f} ratio={ours / theirs:.2f}")


if __name__ == "__main__":
    main()
