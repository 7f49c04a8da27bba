"""Three server processes and a client: membership, a leader killed mid-flight."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.agents import AgentProcess
from tests.cluster_support import start_servers
from tests.job_support import raw_exec_job
from tests.waiting import wait_for


def _job(job_id: str) -> dict[str, Any]:
    return raw_exec_job(job_id, "exec sleep 600", resources=(20, 16))


def _running(server: AgentProcess, job_id: str) -> list[dict[str, Any]]:
    try:
        allocs = httpx.get(f"{server.address}/v1/job/{job_id}/allocations", timeout=5).json()
    except httpx.HTTPError:
        return []
    return [a for a in allocs if a["ClientStatus"] == "running"]


def test_three_servers_lose_their_leader(tmp_path: Path) -> None:
    servers: list[AgentProcess] = []
    client: AgentProcess | None = None
    try:
        start_servers(tmp_path, 3, started=servers)

        def all_announced() -> list[dict[str, Any]] | None:
            members = httpx.get(f"{servers[0].address}/v1/agent/members").json()["Members"]
            ok = len(members) == 3 and all(
                m["Status"] == "alive" and m["Tags"]["http_addr"] for m in members
            )
            return members if ok else None

        members = wait_for(all_announced, what="three servers announced")
        assert sorted(m["Name"] for m in members) == ["s0.global", "s1.global", "s2.global"]
        leader = httpx.get(f"{servers[1].address}/v1/status/leader").json()
        assert leader in {f"{m['Addr']}:{m['Tags']['port']}" for m in members}
        peers = httpx.get(f"{servers[2].address}/v1/status/peers").json()
        assert sorted(peers) == sorted(f"127.0.0.1:{s.rpc_port}" for s in servers)

        def registered(agent: AgentProcess) -> bool:
            nodes = httpx.get(f"{servers[1].address}/v1/nodes", timeout=2).json()
            return any(n["Status"] == "ready" for n in nodes)

        client = AgentProcess(
            [
                "-client",
                "-data-dir",
                str(tmp_path / "client"),
                "-node",
                "worker",
                "-servers",
                # the leader first: the server the client talks to is the one killed
                ",".join(
                    f"127.0.0.1:{s.http_port}"
                    for s in sorted(servers, key=lambda s: f"127.0.0.1:{s.rpc_port}" != leader)
                ),
            ],
            tmp_path / "client.log",
            ready=registered,
        ).start()

        # a write through a follower is carried to the leader
        follower = next(s for s in servers if f"127.0.0.1:{s.rpc_port}" != leader)
        # reads are local: a follower says it knows the leader and heard from it lately
        read = httpx.get(f"{follower.address}/v1/jobs")
        assert read.headers["X-Nomad-KnownLeader"] == "true"
        assert 0 <= int(read.headers["X-Nomad-LastContact"]) < 1000
        own = next(s for s in servers if f"127.0.0.1:{s.rpc_port}" == leader)
        assert httpx.get(f"{own.address}/v1/jobs").headers["X-Nomad-LastContact"] == "0"
        resp = httpx.put(f"{follower.address}/v1/jobs", json=_job("before"))
        assert resp.status_code == 200, resp.text
        before = wait_for(lambda: _running(follower, "before"), what="job placed and running")

        old_leader = next(s for s in servers if f"127.0.0.1:{s.rpc_port}" == leader)
        old_leader.kill()
        survivors = [s for s in servers if s is not old_leader]

        start = time.monotonic()

        def write_accepted() -> bool:
            try:
                r = httpx.put(f"{survivors[0].address}/v1/jobs", json=_job("after"), timeout=15)
            except httpx.HTTPError:
                return False
            return r.status_code == 200

        wait_for(write_accepted, timeout=30, what="a write accepted after the leader died")
        failover_s = time.monotonic() - start
        new_leader = httpx.get(f"{survivors[1].address}/v1/status/leader").json()
        assert new_leader and new_leader != leader
        assert failover_s < 15

        # the new leader schedules; the client (whichever server it talked to) runs it
        wait_for(
            lambda: _running(survivors[1], "after"), timeout=30, what="job placed after failover"
        )
        # the first task kept running: same allocation, never restarted
        still = _running(survivors[0], "before")
        assert [a["ID"] for a in still] == [before[0]["ID"]]
        assert still[0]["TaskStates"]["t"]["Restarts"] == 0
        nodes = httpx.get(f"{survivors[0].address}/v1/nodes").json()
        assert [n["Status"] for n in nodes] == ["ready"]
    finally:
        if client is not None:
            client.kill()
        for s in servers:
            s.kill()
