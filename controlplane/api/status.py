"""Status and agent routes: leader, peers, members, self, regions (API.md §2.6),
and the federation exchange between servers (GET/PUT /v1/internal/federation).

Members and regions of other regions come from the server's federation
table (server/federation.py); this region's from Raft and the replicated
server registry.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane import __version__
from controlplane.server.federation import SIGNATURE_HEADER
from controlplane.structs import ServerMember

from .common import acl_of, agent_of, json_response, require, server_of


async def status_leader(request: Request) -> Response:
    return json_response(request, server_of(request).raft.leader_addr())


async def status_peers(request: Request) -> Response:
    return json_response(request, server_of(request).raft.peers())


def _member(m: ServerMember, status: str) -> dict[str, Any]:
    host, _, port = m.raft_addr.rpartition(":")
    return {
        "Name": f"{m.name}.{m.region}",
        "Addr": host,
        # Nomad reports its serf port here; ours is the RPC port + 1 by convention
        "Port": int(port) + 1 if port.isdigit() else 0,
        "Status": status,
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
        "Tags": {
            "role": "nomad",
            "region": m.region,
            "dc": m.datacenter,
            "build": m.build or __version__,
            "port": port,
            "rpc_addr": host,
            "http_addr": m.http_addr,
            "raft_vsn": "3",
            "id": m.name,
            "vsn": "1",
            "mvn": "1",
            "bootstrap": "1" if m.bootstrap_expect <= 1 else "0",
            "expect": str(m.bootstrap_expect),
        },
    }


def _self_member(request: Request) -> ServerMember:
    agent = agent_of(request)
    cfg = agent.config
    return ServerMember(
        name=cfg.node_name,
        raft_addr=server_of(request).raft.cfg.self_addr,
        http_addr=cfg.http_addr,
        region=cfg.region,
        datacenter=cfg.datacenter,
        build=__version__,
        bootstrap_expect=cfg.bootstrap_expect,
    )


async def agent_members(request: Request) -> Response:
    agent = agent_of(request)
    server = server_of(request)
    cfg = agent.config
    me = _self_member(request)
    known = {m.raft_addr: m for m in server.store.servers()}
    known[me.raft_addr] = me
    for peer in server.raft.peers():
        # a peer that has not announced itself yet still shows, by address
        known.setdefault(
            peer,
            ServerMember(name=peer, raft_addr=peer, region=cfg.region, datacenter=cfg.datacenter),
        )
    status = server.raft.status()
    members = []
    for addr, m in sorted(known.items(), key=lambda kv: kv[1].name):
        connected = addr == me.raft_addr or status.get(f"partner_node_status_server_{addr}") == 2
        state = "left" if m.status == "left" else "alive" if connected else "failed"
        members.append(_member(m, state))
    for wan, state in server.federation.servers():
        if wan.region == cfg.region:
            continue
        remote = ServerMember(
            name=wan.name,
            raft_addr=wan.rpc_addr,
            http_addr=wan.http_addr,
            region=wan.region,
            datacenter=wan.datacenter,
            build=wan.build,
            bootstrap_expect=0,
        )
        members.append(_member(remote, state))
    members.sort(key=lambda m: m["Name"])
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
        member = _member(_self_member(request), "alive")
        st = raft.status()
        stats["nomad"] = {
            "server": "true",
            "leader": str(agent.server.is_leader()).lower(),
            "leader_addr": raft.leader_addr(),
            "bootstrap": "true" if cfg.bootstrap_expect <= 1 else "false",
            "known_regions": str(len(agent.server.federation.regions())),
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
    """This region and every federated one, sorted (Nomad's /v1/regions)."""
    return json_response(request, server_of(request).federation.regions())


async def federation(request: Request) -> Response:
    """GET: this server's WAN table. PUT: a peer's push; answered with ours."""
    table = server_of(request).federation
    if request.method == "GET":
        return json_response(request, table.view())
    server = server_of(request)
    if server.cfg.acl_enabled and not table.cfg.key:
        # unsigned, a push could add a "server" that then receives forwarded
        # requests with their tokens: with ACLs on, only an operator may
        require(acl_of(request).is_management())
    body, signature = table.receive_signed(
        await request.body(), request.headers.get(SIGNATURE_HEADER, "")
    )
    headers = {SIGNATURE_HEADER: signature} if signature else {}
    return Response(body, media_type="application/json", headers=headers)
