"""`server members`, `server join`, `server force-leave`.

`members` is the gossip member list with the Raft leader marked: leader
detection asks `GET /v1/status/leader` per region and compares it to each
member's `<Addr>:<Tags.port>`. `join` and `force-leave` change the membership
through the agent (`/v1/agent/join`, `/v1/agent/force-leave`).
"""

from __future__ import annotations

from typing import Any

from nomadtui.client import one_line

from . import format as fmt
from .context import CommandError, Context, reporting


def run_server_members(ctx: Context) -> int:
    client = ctx.client
    with reporting("Error querying servers"):
        data = client.agent_members() or {}
        members: list[dict[str, Any]] = sorted(
            data.get("Members") or [], key=lambda m: m.get("Name", "")
        )
        regions = sorted(
            {(m.get("Tags") or {}).get("region", "") for m in members if m.get("Status") != "left"}
        )
        leaders = {region: client.status_leader(region or None) for region in regions}
    verbose = ctx.verbose
    header: list[object] = ["Name", "Address", "Port", "Status", "Leader"]
    header += ["Protocol"] if verbose else []
    header += ["Raft Version", "Build", "Datacenter", "Region"]
    header += ["Tags"] if verbose else []
    rows: list[list[object]] = [header]
    for m in members:
        tags: dict[str, str] = m.get("Tags") or {}
        region = tags.get("region", "")
        leader = leaders.get(region, "")
        is_leader = bool(leader) and leader == f"{m.get('Addr', '')}:{tags.get('port', '')}"
        row: list[object] = [
            m.get("Name", ""),
            m.get("Addr", ""),
            m.get("Port", ""),
            m.get("Status", ""),
            str(is_leader).lower(),
        ]
        row += [m.get("ProtocolCur", "")] if verbose else []
        row += [tags.get("raft_vsn", ""), tags.get("build", ""), tags.get("dc", ""), region]
        if verbose:
            row.append(",".join(f"{k}={v}" for k, v in sorted(tags.items())))
        rows.append(row)
    ctx.out(fmt.columnize(rows))
    return 0


def run_server_join(ctx: Context) -> int:
    """`server join ADDR...`: ask the agent to join other servers."""
    addresses: list[str] = ctx.args.addresses
    with reporting("Error joining: failed joining"):
        joined, error = ctx.client.agent_join(addresses)
    if error:
        raise CommandError(f"Error joining: failed joining: {one_line(error)}")
    ctx.out(f"Joined {joined} servers successfully")
    return 0


def run_server_force_leave(ctx: Context) -> int:
    """`server force-leave [-prune] NAME`: silent on success, like Nomad."""
    node: str = ctx.args.node
    with reporting(f"Error force-leaving server {node}"):
        ctx.client.agent_force_leave(node, prune=bool(ctx.args.prune))
    return 0
