"""Raft traffic encrypted with a shared key (`serve -encrypt`), with real server
processes: the cluster forms and replicates; a server with another key is
refused by `server join`, never receives state, and leaves the peers alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from controlplane.agent.tls_certs import gossip_key
from tests.agents import AgentProcess
from tests.cluster_support import rpc_listening, start_servers
from tests.job_support import raw_exec_job
from tests.waiting import wait_for


def _job(job_id: str) -> dict[str, Any]:
    return raw_exec_job(job_id, count=0)


def _jobs(agent: AgentProcess) -> list[str]:
    return [j["ID"] for j in httpx.get(f"{agent.address}/v1/jobs?stale", timeout=5).json()]


def _peers(agent: AgentProcess) -> list[str]:
    config = httpx.get(f"{agent.address}/v1/operator/raft/configuration", timeout=5).json()
    return sorted(s["Address"] for s in config["Servers"])


def test_a_server_with_another_key_cannot_join(tmp_path: Path, procs: list[AgentProcess]) -> None:
    key = gossip_key()
    servers = start_servers(tmp_path, 3, extra=["-encrypt", key], started=procs)
    join = ",".join(f"127.0.0.1:{s.rpc_port}" for s in servers)
    good_peers = sorted(f"127.0.0.1:{s.rpc_port}" for s in servers)
    assert _peers(servers[0]) == good_peers

    # the encrypted cluster replicates
    assert httpx.put(f"{servers[1].address}/v1/jobs", json=_job("shared")).status_code == 200
    for s in servers:
        wait_for(lambda s=s: "shared" in _jobs(s), what=f"replication to {s.address}")

    def joiner(name: str, key: str) -> AgentProcess:
        """A server pointed at the cluster, ready once its Raft port listens."""
        args = ["-server", "-data-dir", str(tmp_path / name), "-node", name]
        args += ["-retry-join", join, "-encrypt", key]
        return AgentProcess(args, tmp_path / f"{name}.log", ready=rpc_listening)

    # a server with another key, pointed at the cluster
    rogue = joiner("rogue", gossip_key())
    procs.append(rogue)
    rogue.start()
    rogue_addr = f"127.0.0.1:{rogue.rpc_port}"
    r = httpx.put(f"{servers[2].address}/v1/agent/join", params={"address": rogue_addr}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["num_joined"] == 0
    assert "does not use this cluster's encryption key" in r.json()["error"]

    # the same key joins (the probe is no blanket refusal) and catches up
    friend = joiner("friend", key)
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
