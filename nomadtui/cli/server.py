"""`server members`: the gossip member list with the Raft leader marked.

Leader detection asks `GET /v1/status/leader` per region and compares it to
each member's `<Addr>:<Tags.port>`. Read-only.
"""

from __future__ import annotations

from typing import Any

from . import format as fmt
from .context import Context, reporting


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
