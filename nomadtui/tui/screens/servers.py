"""Servers: the gossip member list with the Raft leader marked (as `server members`).

Leader detection follows the CLI (API.md §5.4): `GET /v1/status/leader` per
region, compared with each member's `<Addr>:<Tags.port>`. The raft state of
the answering server comes from `/v1/agent/self`; others are derived from the
leader mark. These endpoints do not block, so the watch re-reads them about
once a second.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from controlplane.errors import NomadError
from nomadtui.client import NomadClient, Response

from ..widgets.resource_table import Column, Row
from .base import ResourceScreen

STATUS_STYLE = {"alive": "green", "leaving": "yellow", "left": "dim", "failed": "red"}


def fetch_servers(client: NomadClient, index: int) -> Response:
    """Members plus `Leaders` (region -> leader addr) and the answering server's
    `Self` (its member name and raft stats), in one dict."""
    members: dict[str, Any] = client.agent_members() or {}
    regions = sorted(
        {
            (m.get("Tags") or {}).get("region", "")
            for m in members.get("Members") or []
            if m.get("Status") != "left"
        }
    )
    leaders = {region: client.status_leader(region or None) for region in regions}
    try:
        me = client.agent_self() or {}
    except NomadError:
        me = {}  # a leader mark is still useful without the raft detail
    return Response(data={**members, "Leaders": leaders, "Self": me})


def member_address(member: dict[str, Any]) -> str:
    return f"{member.get('Addr', '')}:{(member.get('Tags') or {}).get('port', '')}"


def raft_state(
    member: dict[str, Any], is_leader: bool, me: dict[str, Any], leader_known: bool
) -> str:
    stats = (me.get("stats") or {}).get("raft") or {}
    if (me.get("member") or {}).get("Name") == member.get("Name") and stats.get("state"):
        return str(stats["state"])
    if is_leader:
        return "Leader"
    if member.get("Status") == "alive" and leader_known:
        return "Follower"
    return "-"


def server_rows(data: dict[str, Any]) -> list[Row]:
    leaders: dict[str, str] = data.get("Leaders") or {}
    me: dict[str, Any] = data.get("Self") or {}
    rows: list[Row] = []
    for m in sorted(data.get("Members") or [], key=lambda m: m.get("Name", "")):
        tags: dict[str, str] = m.get("Tags") or {}
        region = tags.get("region", "")
        leader = leaders.get(region, "")
        is_leader = bool(leader) and leader == member_address(m)
        status = str(m.get("Status", ""))
        name = str(m.get("Name", ""))
        rows.append(
            (
                name,
                (
                    name,
                    member_address(m),
                    Text(status, style=STATUS_STYLE.get(status, "")),
                    Text("★ leader", style="bold green") if is_leader else Text("-", style="dim"),
                    raft_state(m, is_leader, me, bool(leader)),
                    region,
                    tags.get("dc", ""),
                    tags.get("build", ""),
                ),
            )
        )
    return rows


class ServersScreen(ResourceScreen):
    VIEW_TITLE = "Servers"
    SOURCE = "servers"
    COLUMNS = (
        Column("name", "Name", width=16),
        Column("address", "Address", width=21, priority=1),
        Column("status", "Status", width=7),
        Column("leader", "Leader", width=8),
        Column("raft", "Raft", width=9),
        Column("region", "Region", width=8, priority=2),
        Column("dc", "DC", width=6, priority=3),
        Column("build", "Build", width=8, priority=4),
    )

    def fetch(self, client: NomadClient, index: int) -> Response:
        return fetch_servers(client, index)

    def rows(self, data: Any) -> list[Row]:
        return server_rows(data or {})
