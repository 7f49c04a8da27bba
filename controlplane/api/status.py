"""Status and agent routes: leader, peers, members, self, regions (API.md §2.6)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane import __version__

from .common import agent_of, json_response, server_of


async def status_leader(request: Request) -> Response:
    return json_response(request, server_of(request).raft.leader_addr())


async def status_peers(request: Request) -> Response:
    return json_response(request, server_of(request).raft.peers())


def _member(request: Request, rpc_addr: str, name: str, leader: bool = False) -> dict[str, Any]:
    agent = agent_of(request)
    cfg = agent.config
    host, _, port = rpc_addr.rpartition(":")
    return {
        "Name": f"{name}.{cfg.region}",
        "Addr": host,
        "Port": cfg.serf_port,
        "Status": "alive",
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
        "Tags": {
            "role": "nomad",
            "region": cfg.region,
            "dc": cfg.datacenter,
            "build": __version__,
            "port": port,
            "rpc_addr": host,
            "raft_vsn": "3",
            "id": name,
            "vsn": "1",
            "mvn": "1",
            "bootstrap": "1" if cfg.bootstrap_expect <= 1 else "0",
            "expect": str(cfg.bootstrap_expect),
        },
    }


async def agent_members(request: Request) -> Response:
    agent = agent_of(request)
    server = server_of(request)
    cfg = agent.config
    members = [_member(request, server.raft.cfg.self_addr, cfg.node_name)]
    for peer in server.raft.peers():
        if peer != server.raft.cfg.self_addr:
            members.append(_member(request, peer, peer))
    return json_response(
        request,
        {
            "ServerName": cfg.node_name,
            "ServerRegion": cfg.region,
            "ServerDC": cfg.datacenter,
            "Members": members,
        },
    )


async def agent_self(request: Request) -> Response:
    agent = agent_of(request)
    cfg = agent.config
    stats: dict[str, dict[str, str]] = {}
    member: dict[str, Any] = {}
    if agent.server is not None:
        raft = agent.server.raft
        member = _member(request, raft.cfg.self_addr, cfg.node_name)
        st = raft.status()
        stats["nomad"] = {
            "server": "true",
            "leader": str(agent.server.is_leader()).lower(),
            "leader_addr": raft.leader_addr(),
            "bootstrap": "true" if cfg.bootstrap_expect <= 1 else "false",
            "known_regions": "1",
        }
        stats["raft"] = {
            "commit_index": str(st.get("commit_idx", 0)),
            "applied_index": str(st.get("last_applied", 0)),
            "num_peers": str(st.get("partner_nodes_count", 0)),
            "state": {0: "Follower", 1: "Candidate", 2: "Leader"}.get(st.get("state", 0), "?"),
            "term": str(st.get("raft_term", 0)),
        }
    if agent.client is not None:
        stats["client"] = {
            "node_id": agent.client.node_id,
            "known_servers": ",".join(cfg.servers) or cfg.http_addr,
            "num_allocations": str(len(agent.client.runners())),
        }
    return json_response(request, {"config": cfg.public(), "member": member, "stats": stats})


async def agent_health(request: Request) -> Response:
    agent = agent_of(request)
    out: dict[str, Any] = {}
    if agent.server is not None:
        ok = bool(agent.server.raft.leader_addr())
        out["server"] = {"ok": ok, "message": "ok" if ok else "No cluster leader"}
    if agent.client is not None:
        out["client"] = {"ok": True, "message": "ok"}
    return json_response(request, out)


async def regions(request: Request) -> Response:
    return json_response(request, [agent_of(request).config.region])
