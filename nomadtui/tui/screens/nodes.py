"""Nodes: the client node list with allocated CPU / memory drawn as bars.

Two blocking watches feed it: the node list and one cluster-wide allocation
list (aggregated per node by node_usage), so the bars cost one request per
change, not one per node. `d` drains (or cancels a drain), `e` toggles
eligibility of the selected node; both are hidden with --read-only.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding

from nomadtui.client import NomadClient, Response

from ..messages import DataChanged
from ..permissions import NODE_WRITE
from ..watch import WAIT_S
from ..widgets.resource_table import Column, Row
from . import node_actions
from .base import ResourceScreen
from .node_usage import NodeUsage, capacity, fetch_usage, usage_bar

STATUS_STYLE = {"ready": "green", "initializing": "yellow", "down": "red", "disconnected": "red"}
USAGE_SOURCE = "nodes.usage"


def status_text(node: dict[str, Any]) -> Text:
    status = str(node.get("Status", ""))
    return Text(status, style=STATUS_STYLE.get(status, ""))


def eligibility_text(node: dict[str, Any], show_drain: bool = False) -> Text:
    """`eligible` / `ineligible`; with `show_drain`, a draining node says
    `draining` (the Drain column is the first to go on narrow screens)."""
    if show_drain and node.get("Drain"):
        return Text("draining", style="bold yellow")
    value = str(node.get("SchedulingEligibility", ""))
    return Text(value, style="" if value == "eligible" else "yellow")


def drain_text(node: dict[str, Any]) -> Text:
    return Text("true", style="yellow") if node.get("Drain") else Text("false")


class NodeLister:
    """Fetches the node list with NodeResources; a server that ignores
    `resources=true` gets one full-node read per node *change* (cached by
    ModifyIndex), never one per refresh."""

    def __init__(self) -> None:
        self._resources: dict[str, tuple[int, dict[str, Any]]] = {}

    def __call__(self, client: NomadClient, index: int) -> Response:
        resp = client.get("/v1/nodes", {"resources": True}, index=index or None, wait=WAIT_S)
        nodes: list[dict[str, Any]] = list(resp.data or [])
        out = []
        for n in nodes:
            if "NodeResources" not in n:
                n = {**n, **self._full_resources(client, n)}
            out.append(n)
        return Response(data=out, index=resp.index)

    def _full_resources(self, client: NomadClient, stub: dict[str, Any]) -> dict[str, Any]:
        node_id, modify = str(stub["ID"]), int(stub.get("ModifyIndex") or 0)
        cached = self._resources.get(node_id)
        if cached is None or cached[0] != modify:
            full = client.node(node_id).data or {}
            res = {k: full.get(k) for k in ("NodeResources", "ReservedResources")}
            cached = self._resources[node_id] = (modify, res)
        return cached[1]


class NodesScreen(ResourceScreen):
    VIEW_TITLE = "Nodes"
    SOURCE = "nodes"
    MUTATING = frozenset({"drain", "eligibility"})
    NEEDS = dict.fromkeys(("drain", "eligibility"), NODE_WRITE)
    COLUMNS = (
        Column("id", "ID", width=8),
        Column("name", "Name", width=14, priority=1),
        Column("dc", "DC", width=6, priority=5),
        Column("class", "Class", width=8, priority=6),
        Column("drain", "Drain", width=5, priority=3),
        Column("eligibility", "Eligibility", width=11),
        Column("status", "Status", width=12),
        Column("allocs", "Allocs", width=6, priority=4),
        Column("cpu", "CPU", width=11),
        Column("memory", "Memory", width=11),
    )
    BINDINGS = [
        Binding("d", "drain", "Drain", id="node.drain"),
        Binding("e", "eligibility", "Eligibility", id="node.eligibility"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.node_list: list[dict[str, Any]] = []
        self._usage = NodeUsage()
        self._lister = NodeLister()

    def start_watches(self) -> None:
        self._lister = NodeLister()
        self.watch_api(self.SOURCE, self._lister)
        self.watch_api(USAGE_SOURCE, lambda c, i: fetch_usage(c, i, WAIT_S))

    def fetch(self, client: NomadClient, index: int) -> Response:
        return self._lister(client, index)

    def on_data_changed(self, message: DataChanged) -> None:
        if message.source == self.SOURCE:
            self.node_list = list(message.data or [])
        elif message.source == USAGE_SOURCE:
            self._usage = message.data
        else:
            return
        message.prevent_default()  # the base handler would render the stubs alone
        self.table.set_rows(self.rows(self.node_list))
        self.console.connection_ok()

    def rows(self, data: Any) -> list[Row]:
        out: list[Row] = []
        for n in data or []:
            node_id = str(n.get("ID", ""))
            used, cap = self._usage.of(node_id), capacity(n)
            out.append(
                (
                    node_id,
                    (
                        node_id[:8],
                        str(n.get("Name", "")),
                        str(n.get("Datacenter", "")),
                        str(n.get("NodeClass") or "<none>"),
                        drain_text(n),
                        eligibility_text(n, show_drain=True),
                        status_text(n),
                        str(used.allocs),
                        usage_bar(used.cpu, cap.cpu),
                        usage_bar(used.memory_mb, cap.memory_mb),
                    ),
                )
            )
        return out

    def open_item(self, key: str) -> None:
        self.console.open_node(key)

    def _selected(self) -> dict[str, Any] | None:
        key = self.table.current_key
        return next((n for n in self.node_list if n.get("ID") == key), None)

    def action_drain(self) -> None:
        node = self._selected()
        if node is not None:
            node_actions.drain(self, self.client, node)

    def action_eligibility(self) -> None:
        node = self._selected()
        if node is not None:
            node_actions.toggle_eligibility(self, self.client, node)
