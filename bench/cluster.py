"""Benchmark: a C1M-style run at one tenth of the size (issue 8, part 2).

A real 3-server cluster (three `nomadtui serve -server` processes on
loopback) and N simulated client nodes, all driven from this ONE process:
each node registers (`PUT /v1/internal/node/register`, a fingerprint-like
Node: resources, datacenter, class, a healthy raw_exec driver) and keeps
heartbeating at half its TTL, as the real client does. Then J jobs of C
allocations each (a raw_exec task with small resources) are registered with
`PUT /v1/jobs`. Tasks are not run: the simulated clients learn of their
placed allocations from one event-stream subscription (topic Allocation,
cheaper than N blocking queries, which the real client uses) and report
`ClientStatus: running` with `PUT /v1/internal/allocs/update`, one batch
per node at most every 200 ms, as controlplane/client/alloc_updates.py does.

Prints the "Scheduled" and "Running" curves as (t, count) points from the
first job registration, the heartbeat figures and each server's RSS, then
one `RESULT` line. Not a test.

    .venv/bin/python bench/cluster.py [--nodes 5000 --jobs 1000 --count 100] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import aiohttp
import msgspec
import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import contextlib

from controlplane.structs import (
    DriverInfo,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeResources,
    to_builtins,
)

JOB_PREFIX = "c1m-"
UPDATE_INTERVAL_S = 0.2  # the real client's AllocUpdater batching interval
CONCURRENCY = 32  # requests in flight from the simulated clients


# -- the servers ---------------------------------------------------------------


def _ports(n: int) -> list[int]:
    socks, out = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        out.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return out


def start_servers(data: str) -> tuple[list[subprocess.Popen[bytes]], list[int], list[int]]:
    rpc, http = _ports(3), _ports(3)
    join = ",".join(f"127.0.0.1:{p}" for p in rpc)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nomadtui", "serve", "-server", "-data-dir",
             os.path.join(data, f"s{i}"), "-node", f"s{i}", "-retry-join", join,
             "-http-port", str(http[i]), "-rpc-port", str(rpc[i]), "-log-level", "WARNING"],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(data, f"s{i}.log"), "wb"),  # noqa: SIM115 (the child owns it)
            start_new_session=True,
        )
        for i in range(3)
    ]
    return procs, rpc, http


def kill(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


async def leader_http(session: aiohttp.ClientSession, rpc: list[int], http: list[int]) -> str:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            async with session.get(f"http://127.0.0.1:{http[0]}/v1/status/leader") as r:
                leader = await r.json() if r.status == 200 else ""
            if leader:
                return f"http://127.0.0.1:{http[rpc.index(int(leader.rsplit(':', 1)[1]))]}"
        except (aiohttp.ClientError, ValueError):
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError("the cluster elected no leader in 60 s")


# -- what the simulated clients send -------------------------------------------


def fake_node(i: int, rng: random.Random) -> Node:
    cores = rng.choice((4, 8, 16, 32))
    return Node(
        id=str(uuid.UUID(int=rng.getrandbits(128))),
        secret_id=str(uuid.uuid4()),
        datacenter=f"dc{i % 3 + 1}",
        name=f"sim-{i}",
        node_class=f"class-{i % 4}",
        attributes={
            "kernel.name": "linux", "cpu.arch": "amd64", "cpu.numcores": str(cores),
            "cpu.totalcompute": str(cores * 2500), "os.name": "debian",
            "unique.hostname": f"sim-{i}", "unique.network.ip-address": "127.0.0.1",
            "driver.raw_exec": "1", "nomad.version": "1.7.0",
        },
        node_resources=NodeResources(
            cpu=NodeCpuResources(cpu_shares=cores * 2500, total_cpu_cores=cores),
            memory=NodeMemoryResources(memory_mb=cores * 4096),
            disk=NodeDiskResources(disk_mb=100_000),
        ),
        drivers={"raw_exec": DriverInfo(detected=True, healthy=True,
                                        health_description="Healthy")},
        status="initializing",
    )


def job_body(j: int, count: int) -> dict[str, Any]:
    return {"Job": {
        "ID": f"{JOB_PREFIX}{j}", "Datacenters": ["dc1", "dc2", "dc3"], "Type": "service",
        "TaskGroups": [{
            "Name": "g", "Count": count,
            "Tasks": [{"Name": "t", "Driver": "raw_exec",
                       "Config": {"command": "/bin/sleep", "args": ["600"]},
                       "Resources": {"CPU": 20, "MemoryMB": 16}}],
        }],
    }}


class AllocStub(msgspec.Struct):
    ID: str
    NodeID: str = ""
    JobID: str = ""
    ClientStatus: str = ""
    DesiredStatus: str = ""


class Event(msgspec.Struct):
    Type: str = ""
    Payload: dict[str, AllocStub] = {}


class Batch(msgspec.Struct):
    Index: int = 0
    Events: list[Event] = []


# -- the run -------------------------------------------------------------------


class Sim:
    def __init__(self, base: str, session: aiohttp.ClientSession, total: int) -> None:
        self.base = base
        self.http = session
        self.total = total
        self.sem = asyncio.Semaphore(CONCURRENCY)
        self.t0 = 0.0
        self.placed: dict[str, float] = {}  # alloc ID -> seconds since t0
        self.running: dict[str, float] = {}
        self.to_report: dict[str, list[str]] = {}  # node ID -> placed alloc IDs
        self.heartbeats = 0
        self.heartbeat_errors = 0
        self.heartbeat_late = 0.0  # worst lateness behind the TTL/2 schedule
        self.update_errors = 0
        self.reported: set[str] = set()  # alloc IDs whose running update was accepted
        self.stop = asyncio.Event()

    async def put(self, path: str, body: Any) -> Any:
        async with self.sem, self.http.put(self.base + path, json=body) as r:
            if r.status != 200:
                raise RuntimeError(f"PUT {path}: {r.status} {(await r.text())[:200]}")
            return await r.json()

    async def register(self, nodes: list[Node]) -> dict[str, float]:
        async def one(n: Node) -> tuple[str, float]:
            out = await self.put("/v1/internal/node/register", {"Node": to_builtins(n)})
            return n.id, out["HeartbeatTTL"] / 1e9
        return dict(await asyncio.gather(*(one(n) for n in nodes)))

    async def heartbeat_loop(self, ttls: dict[str, float]) -> None:
        # every node beats at half its TTL, spread evenly (as jittered clients would)
        now = time.monotonic()
        heap = [(now + ttl / 2 * random.random(), nid) for nid, ttl in ttls.items()]
        heapq.heapify(heap)
        pending: set[asyncio.Task[None]] = set()

        async def beat(nid: str, due: float) -> None:
            self.heartbeat_late = max(self.heartbeat_late, time.monotonic() - due)
            try:
                out = await self.put(f"/v1/internal/node/{nid}/heartbeat", {"Status": "ready"})
                self.heartbeats += 1
                heapq.heappush(heap, (time.monotonic() + out["HeartbeatTTL"] / 1e9 / 2, nid))
            except (TimeoutError, aiohttp.ClientError, RuntimeError):
                self.heartbeat_errors += 1
                heapq.heappush(heap, (time.monotonic() + 1.0, nid))

        while not self.stop.is_set():
            if not heap:
                await asyncio.sleep(0.1)
                continue
            due, nid = heap[0]
            wait = due - time.monotonic()
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), min(wait, 0.5))
                continue
            heapq.heappop(heap)
            t = asyncio.create_task(beat(nid, due))
            pending.add(t)
            t.add_done_callback(pending.discard)
        for t in list(pending):
            t.cancel()

    async def watch(self) -> None:
        decoder = msgspec.json.Decoder(Batch)
        url = self.base + "/v1/event/stream?topic=Allocation"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.http.get(url, timeout=timeout) as r:
            parts: list[bytes] = []  # of the line being read: one can be many MB
            async for chunk in r.content.iter_any():
                if b"\n" not in chunk:
                    parts.append(chunk)
                    continue
                *lines, rest = (b"".join(parts) + chunk).split(b"\n")
                parts = [rest]
                for line in lines:
                    if len(line) > 3:  # not a heartbeat `{}`
                        self.seen(decoder.decode(line))

    def seen(self, batch: Batch) -> None:
        now = time.monotonic() - self.t0
        for ev in batch.Events:
            a = ev.Payload.get("Allocation")
            if a is None or not a.JobID.startswith(JOB_PREFIX):
                continue
            if a.ClientStatus == "pending" and a.DesiredStatus == "run":
                if a.ID not in self.placed:
                    self.placed[a.ID] = now
                    self.to_report.setdefault(a.NodeID, []).append(a.ID)
            elif a.ClientStatus == "running" and a.ID not in self.running:
                self.running[a.ID] = now

    async def report_loop(self) -> None:
        """Each node sends its newly placed allocations as running, at most one
        batch per node every UPDATE_INTERVAL_S (the client's AllocUpdater)."""
        while not self.stop.is_set():
            batch, self.to_report = self.to_report, {}
            started = time.monotonic()
            if batch:
                await asyncio.gather(*(self.report(nid, ids) for nid, ids in batch.items()))
            await asyncio.sleep(max(0.0, UPDATE_INTERVAL_S - (time.monotonic() - started)))

    async def report(self, node_id: str, ids: list[str]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        updates = [{"ID": i, "ClientStatus": "running",
                    "TaskStates": {"t": {"State": "running", "StartedAt": now}}} for i in ids]
        try:
            await self.put("/v1/internal/allocs/update", {"Allocs": updates})
            self.reported.update(ids)
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
            # as the real client's AllocUpdater: keep them for the next batch
            self.update_errors += 1
            self.to_report.setdefault(node_id, []).extend(ids)
            print(f"  alloc update failed (retried): {exc}", file=sys.stderr)

    async def register_jobs(self, jobs: int, count: int) -> float:
        await asyncio.gather(*(self.put("/v1/jobs", job_body(j, count)) for j in range(jobs)))
        return time.monotonic() - self.t0


async def server_view(sim: Sim, base: str) -> None:
    """Where the missing allocations are, by the leader's own state."""
    async with sim.http.get(base + "/v1/allocations?task_states=false") as r:
        allocs = [a for a in await r.json() if a["JobID"].startswith(JOB_PREFIX)]
    by_status: dict[str, int] = {}
    for a in allocs:
        key = f"{a['DesiredStatus']}/{a['ClientStatus']}"
        by_status[key] = by_status.get(key, 0) + 1
    print(f"leader's view: {len(allocs)} allocs, {by_status}")
    stuck = [a for a in allocs if a["ClientStatus"] != "running"]
    unseen = [a for a in allocs if a["ClientStatus"] == "running" and a["ID"] not in sim.running]
    print(f"  not running on the leader: {len(stuck)}, of which reported running by us: "
          f"{sum(a['ID'] in sim.reported for a in stuck)}, never seen placed: "
          f"{sum(a['ID'] not in sim.placed for a in stuck)}; running on the leader but no "
          f"event seen: {len(unseen)}")
    for a in stuck[:3]:
        print(f"  e.g. {a['ID']} node={a['NodeID'][:8]} {a['DesiredStatus']}/{a['ClientStatus']}"
              f" create={a['CreateIndex']} modify={a['ModifyIndex']}")


def curve(times: dict[str, float], total: int) -> tuple[str, float | None]:
    ts = sorted(times.values())
    points = []
    for frac in (0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
        k = int(total * frac)
        if 0 < k <= len(ts):
            points.append(f"({ts[k - 1]:.1f}s, {k})")
    done = ts[-1] if len(ts) >= total else None
    return " ".join(points) or "(none)", done


async def run(args: argparse.Namespace, data: str) -> int:
    procs, rpc, http = start_servers(data)
    conn = aiohttp.TCPConnector(limit=CONCURRENCY + 8)
    session = aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60))
    tasks: list[asyncio.Task[None]] = []
    try:
        base = await leader_http(session, rpc, http)
        total = args.jobs * args.count
        sim = Sim(base, session, total)
        rng = random.Random(8)
        nodes = [fake_node(i, rng) for i in range(args.nodes)]

        t = time.monotonic()
        ttls = await sim.register(nodes)
        reg_s = time.monotonic() - t
        print(f"registered {len(nodes)} nodes in {reg_s:.1f}s ({len(nodes) / reg_s:.0f}/s), "
              f"heartbeat TTL {min(ttls.values()):.0f}s")
        tasks.append(asyncio.create_task(sim.heartbeat_loop(ttls)))
        tasks.append(asyncio.create_task(sim.watch()))
        tasks.append(asyncio.create_task(sim.report_loop()))
        await asyncio.sleep(0.2)  # the stream is subscribed before the first job

        sim.t0 = time.monotonic()
        submit_s = await sim.register_jobs(args.jobs, args.count)
        print(f"registered {args.jobs} jobs x {args.count} in {submit_s:.1f}s")
        deadline = sim.t0 + args.timeout
        last = -1
        while len(sim.running) < total and time.monotonic() < deadline:
            for t_ in tasks:
                if t_.done() and t_.exception() is not None:
                    raise t_.exception()  # type: ignore[misc]
            await asyncio.sleep(0.5)
            now = time.monotonic() - sim.t0
            if int(now) // 5 != last:
                last = int(now) // 5
                print(f"  t={now:5.1f}s scheduled={len(sim.placed)} running={len(sim.running)}")
        sim.stop.set()

        sched_pts, sched_s = curve(sim.placed, total)
        run_pts, run_s = curve(sim.running, total)
        print(f"Scheduled: {sched_pts}")
        print(f"Running:   {run_pts}")
        if sched_s is None or run_s is None:
            print(f"TIMEOUT after {args.timeout:.0f}s: scheduled {len(sim.placed)}, "
                  f"running {len(sim.running)} of {total}")
        if sched_s is not None:
            print(f"all {total} scheduled in {sched_s:.1f}s = {total / sched_s:.0f} placements/s "
                  "(target <= 30 s for 100,000)")
        async with session.get(base + "/v1/nodes") as r:
            statuses = [n["Status"] for n in await r.json()]
        down = sum(s != "ready" for s in statuses)
        print(f"heartbeats: {sim.heartbeats} sent, {sim.heartbeat_errors} failed, worst "
              f"{sim.heartbeat_late:.1f}s late; nodes not ready at the end: {down}/{len(statuses)}")
        if sim.update_errors:
            print(f"alloc updates failed: {sim.update_errors}")
        if len(sim.running) < total:
            await server_view(sim, base)
        leader_port = int(base.rsplit(":", 1)[1])
        rss = {}
        for i, p in enumerate(procs):
            mb = psutil.Process(p.pid).memory_info().rss / 2**20
            rss["leader" if http[i] == leader_port else f"s{i}"] = mb
        print("server RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()))
        followers = [v for k, v in rss.items() if k != "leader"]
        print(f"RESULT scheduled_s={sched_s or -1:.1f} running_s={run_s or -1:.1f} "
              f"allocs={total} nodes={args.nodes} "
              f"placements_per_s={(total / sched_s) if sched_s else 0:.0f} "
              f"nodes_down={down} leader_rss_mb={rss.get('leader', 0):.0f} "
              f"follower_rss_mb={max(followers, default=0):.0f}")
        return 0 if run_s is not None and down == 0 else 1
    finally:
        for t_ in tasks:
            t_.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
        kill(procs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--count", type=int, default=100, help="allocations per job")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds from the first job until giving up")
    ap.add_argument("--quick", action="store_true", help="500 nodes, 100 jobs x 100")
    ap.add_argument("--keep-logs", action="store_true", help="keep the servers' data dir")
    args = ap.parse_args()
    if args.quick:
        args.nodes, args.jobs, args.count = 500, 100, 100
        args.timeout = min(args.timeout, 45.0)
    data = tempfile.mkdtemp(prefix="bench-cluster-")
    try:
        rc = asyncio.run(run(args, data))
    finally:
        if args.keep_logs:
            print(f"server logs: {data}/s*.log")
        else:
            subprocess.run(["rm", "-rf", data], check=False)
    sys.exit(rc)


if __name__ == "__main__":
    main()
