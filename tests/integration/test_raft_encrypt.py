"""Raft traffic encrypted with a shared key (`serve -encrypt`), with real server
processes: the cluster forms and replicates; a server with another key is
refused by `server join`, never receives state, and leaves the peers alone."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.agent.tls_certs import gossip_key
from tests.agents import AgentProcess, free_port
from tests.waiting import wait_for


def _job(job_id: str) -> dict[str, Any]:
    return {
        "Job": {
            "ID": job_id,
            "TaskGroups": [
                {
                    "Name": "g",
                    "Count": 0,
                    "Tasks": [
                        {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}
                    ],
                }
            ],
        }
    }


def _jobs(agent: AgentProcess) -> list[str]:
    return [j["ID"] for j in httpx.get(f"{agent.address}/v1/jobs?stale", timeout=5).json()]


def _peers(agent: AgentProcess) -> list[str]:
    config = httpx.get(f"{agent.address}/v1/operator/raft/configuration", timeout=5).json()
    return sorted(s["Address"] for s in config["Servers"])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def procs() -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for p in started:
        p.kill()


def test_a_server_with_another_key_cannot_join(tmp_path: Path, procs: list[AgentProcess]) -> None:
    key = gossip_key()
    rpc = [free_port() for _ in range(3)]
    join = ",".join(f"127.0.0.1:{p}" for p in rpc)
    for i in range(3):
        procs.append(
            AgentProcess(
                [
                    "-server",
                    "-data-dir",
                    str(tmp_path / f"s{i}"),
                    "-node",
                    f"s{i}",
                    "-bootstrap-expect",
                    "3",
                    "-retry-join",
                    join,
                    "-encrypt",
                    key,
                ],
                tmp_path / f"s{i}.log",
                rpc_port=rpc[i],
            ).start(wait=False)
        )
    servers = list(procs)
    for s in servers:
        s.wait_ready()
    good_peers = sorted(f"127.0.0.1:{p}" for p in rpc)
    assert _peers(servers[0]) == good_peers

    # the encrypted cluster replicates
    assert httpx.put(f"{servers[1].address}/v1/jobs", json=_job("shared")).status_code == 200
    for s in servers:
        wait_for(lambda s=s: "shared" in _jobs(s), what=f"replication to {s.address}")

    # a server with another key, pointed at the cluster
    rogue = AgentProcess(
        [
            "-server",
            "-data-dir",
            str(tmp_path / "rogue"),
            "-node",
            "rogue",
            "-retry-join",
            join,
            "-encrypt",
            gossip_key(),
        ],
        tmp_path / "rogue.log",
        ready=lambda a: _listening(a.rpc_port),
    )
    procs.append(rogue)
    rogue.start()
    rogue_addr = f"127.0.0.1:{rogue.rpc_port}"
    r = httpx.put(f"{servers[2].address}/v1/agent/join", params={"address": rogue_addr}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["num_joined"] == 0
    assert "does not use this cluster's encryption key" in r.json()["error"]

    # the same key joins (the probe is no blanket refusal) and catches up
    friend = AgentProcess(
        [
            "-server",
            "-data-dir",
            str(tmp_path / "friend"),
            "-node",
            "friend",
            "-retry-join",
            join,
            "-encrypt",
            key,
        ],
        tmp_path / "friend.log",
        ready=lambda a: _listening(a.rpc_port),
    )
    procs.append(friend)
    friend.start()
    friend_addr = f"127.0.0.1:{friend.rpc_port}"
    r = httpx.put(
        f"{servers[0].address}/v1/agent/join", params={"address": friend_addr}, timeout=30
    )
    assert r.json() == {"num_joined": 1, "error": ""}
    wait_for(lambda: "shared" in _jobs(friend), what="the joined server to catch up")
    assert httpx.put(f"{servers[0].address}/v1/jobs", json=_job("later")).status_code == 200
    wait_for(lambda: "later" in _jobs(friend), what="the joined server to replicate")

    # meanwhile the rogue heard nothing: no leader, no state, and the
    # cluster's configuration names only the servers that share the key
    for s in servers:
        assert _peers(s) == sorted([*good_peers, friend_addr])
    assert httpx.get(f"{rogue.address}/v1/status/leader", timeout=5).json() == ""
    assert _jobs(rogue) == []
    assert rogue.proc is not None and rogue.proc.poll() is None
    for s in servers:
        assert "Traceback" not in s.log()
