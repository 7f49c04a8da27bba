"""Server membership changes: join, force-leave, Raft configuration, remove-peer.

pysyncobj's dynamic membership does the Raft part (one change at a time, on
the leader); the replicated server registry records names and addresses.
`join` also federates: an address where a server of another region answers
over HTTP joins the WAN pool (federation.py), never this region's Raft.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from controlplane.errors import NomadError, NotFound
from controlplane.raft.messages import MsgType, ServerMemberMsg

if TYPE_CHECKING:
    from .server import Server


async def join(server: Server, addresses: list[str]) -> tuple[int, str]:
    joined, errors = 0, []
    peers = set(server.raft.peers())
    for addr in addresses:
        if addr in peers:
            joined += 1
            continue
        # an HTTP address of a server (nothing answers so over Raft's port)
        other = await asyncio.to_thread(server.federation.exchange, addr)
        if other is not None:
            if other.region != server.cfg.region:
                joined += 1  # a WAN peer: gossip spreads it to the region
                continue
            # a server of this region named by its HTTP address: join its Raft
            addr = other.rpc_addr
            if addr in peers:
                joined += 1
                continue
        # adding a voter that is not there, or cannot decrypt the cluster's
        # Raft traffic, would cost the cluster its quorum
        problem = await asyncio.to_thread(server.raft.probe_peer, addr)
        if problem:
            errors.append(f"{addr}: {problem}")
            continue
        try:
            await server.raft.change_membership(True, addr)
            joined += 1
        except NomadError as exc:
            errors.append(f"{addr}: {exc}")
    return joined, "; ".join(errors)


async def force_leave(server: Server, node: str) -> None:
    name = node.rsplit(".", 1)[0] if node.count(".") else node
    member = next(
        (m for m in server.store.servers() if m.name in (node, name) or m.raft_addr == node),
        None,
    )
    if member is None:
        raise NotFound(f"server {node!r} not found")
    if member.raft_addr in server.raft.peers():
        await server.raft.change_membership(False, member.raft_addr)
    await server.raft.submit_async(
        MsgType.SERVER_MEMBER, ServerMemberMsg(member=member.replace(status="left"))
    )


async def remove_peer(server: Server, address: str) -> None:
    if address not in server.raft.peers():
        raise NotFound(f"address {address!r} was not found in the Raft configuration")
    await server.raft.change_membership(False, address)


def configuration(server: Server) -> dict[str, Any]:
    leader = server.raft.leader_addr()
    names = {m.raft_addr: f"{m.name}.{m.region}" for m in server.store.servers()}
    return {
        "Index": server.store.index,
        "Servers": [
            {
                "ID": addr,
                "Node": names.get(addr, addr),
                "Address": addr,
                "Leader": addr == leader,
                "Voter": True,
                "RaftProtocol": "3",
            }
            for addr in server.raft.peers()
        ],
    }
