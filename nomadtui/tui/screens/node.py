"""Node: one client node — key facts with allocated-resource bars, then tabs for
its allocations (enter opens one), drivers, events and attributes.

Two blocking watches (the node, its allocations) keep it live; `d` drains or
cancels a drain, `e` toggles eligibility (node_actions; hidden when read-only).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static, TabbedContent, TabPane

from nomadtui.cli.format import (
    format_datetime,
    from_rfc3339,
    from_unix_nano,
    pretty_time_diff,
)

from ..messages import DataChanged
from ..permissions import NODE_WRITE
from ..watch import WAIT_S
from ..widgets.resource_table import Column, ResourceTable, Row
from . import node_actions
from .base import ConsoleScreen, ContextBar
from .node_usage import (
    aggregate,
    alloc_resources,
    capacity,
    cpu_text,
    is_live,
    memory_text,
    usage_bar,
)
from .nodes import drain_text, eligibility_text, status_text

ALLOC_COLUMNS = (
    Column("id", "ID", width=8),
    Column("name", "Name", width=22, priority=2),
    Column("desired", "Desired", width=7),
    Column("status", "Status", width=8),
    Column("cpu", "CPU MHz", width=7, priority=3),
    Column("memory", "Mem MB", width=6, priority=4),
    Column("created", "Created", width=10, priority=1),
)
DRIVER_COLUMNS = (
    Column("driver", "Driver", width=12),
    Column("detected", "Detected", width=8),
    Column("healthy", "Healthy", width=7),
    Column("message", "Message", width=24, priority=1),
    Column("updated", "Updated", width=10, priority=2),
)
EVENT_COLUMNS = (
    Column("time", "Time", width=20, priority=1),
    Column("subsystem", "Subsystem", width=10),
    Column("message", "Message", width=40),
)
ATTRIBUTE_COLUMNS = (Column("key", "Attribute", width=32), Column("value", "Value", width=36))
ALLOC_STATUS_STYLE = {
    "running": "green",
    "pending": "yellow",
    "failed": "red",
    "lost": "red",
    "complete": "dim",
}
TABS = ("allocs", "drivers", "events", "attributes")


def yes_no(value: Any) -> Text:
    return Text("yes", style="green") if value else Text("no", style="red")


def driver_rows(node: dict[str, Any], now: datetime) -> list[Row]:
    rows: list[Row] = []
    for name, info in sorted((node.get("Drivers") or {}).items()):
        info = info or {}
        healthy = yes_no(info.get("Healthy")) if info.get("Detected") else Text("-", style="dim")
        rows.append(
            (
                name,
                (
                    name,
                    yes_no(info.get("Detected")),
                    healthy,
                    str(info.get("HealthDescription") or ""),
                    pretty_time_diff(from_rfc3339(info.get("UpdateTime")), now),
                ),
            )
        )
    return rows


def event_rows(node: dict[str, Any]) -> list[Row]:
    events = sorted(
        node.get("Events") or [], key=lambda e: int(e.get("CreateIndex") or 0), reverse=True
    )
    return [
        (
            f"{i}-{e.get('CreateIndex', 0)}",
            (
                format_datetime(from_rfc3339(e.get("Timestamp"))),
                str(e.get("Subsystem", "")),
                str(e.get("Message", "")),
            ),
        )
        for i, e in enumerate(events)
    ]


def attribute_rows(node: dict[str, Any]) -> list[Row]:
    rows: list[Row] = [(k, (k, str(v))) for k, v in sorted((node.get("Attributes") or {}).items())]
    rows += [
        (f"meta.{k}", (f"meta.{k}", str(v))) for k, v in sorted((node.get("Meta") or {}).items())
    ]
    return rows


def alloc_rows(allocs: list[dict[str, Any]], now: datetime) -> list[Row]:
    ordered = sorted(allocs, key=lambda a: (not is_live(a), -int(a.get("CreateIndex") or 0)))
    rows: list[Row] = []
    for a in ordered:
        status = str(a.get("ClientStatus", ""))
        cpu, mem = alloc_resources(a)
        rows.append(
            (
                str(a["ID"]),
                (
                    str(a["ID"])[:8],
                    str(a.get("Name", "")),
                    str(a.get("DesiredStatus", "")),
                    Text(status, style=ALLOC_STATUS_STYLE.get(status, "")),
                    str(cpu),
                    str(mem),
                    pretty_time_diff(from_unix_nano(a.get("CreateTime")), now),
                ),
            )
        )
    return rows


def driver_summary(node: dict[str, Any]) -> str:
    names = []
    for name, info in sorted((node.get("Drivers") or {}).items()):
        if (info or {}).get("Detected"):
            names.append(name if info.get("Healthy") else f"{name} (unhealthy)")
    return ",".join(names) or "<none>"


def summary(node: dict[str, Any], allocs: list[dict[str, Any]]) -> Text:
    used = aggregate(allocs).of(str(node.get("ID", "")))
    cap = capacity(node)
    text = Text()
    text.append(f"{node.get('Name', '')}", style="bold")
    text.append(f"  {node.get('ID', '')}\nstatus ", style="dim")
    text.append_text(status_text(node))
    text.append("  eligibility ")
    text.append_text(eligibility_text(node))
    text.append("  drain ")
    text.append_text(drain_text(node))
    text.append(f"  allocs {used.allocs}\n")
    text.append(
        f"dc {node.get('Datacenter', '')}  pool {node.get('NodePool') or 'default'}"
        f"  class {node.get('NodeClass') or '<none>'}  drivers {driver_summary(node)}\n"
    )
    text.append("CPU ")
    text.append_text(usage_bar(used.cpu, cap.cpu, width=10))
    text.append(f" {cpu_text(used.cpu, cap.cpu)}  Mem ")
    text.append_text(usage_bar(used.memory_mb, cap.memory_mb, width=10))
    text.append(f" {memory_text(used.memory_mb, cap.memory_mb)}")
    return text


class NodeScreen(ConsoleScreen):
    VIEW_TITLE = "Node"
    MUTATING = frozenset({"drain", "eligibility"})
    NEEDS = dict.fromkeys(("drain", "eligibility"), NODE_WRITE)
    DEFAULT_CSS = """
    NodeScreen #summary {
        height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    NodeScreen TabbedContent { height: 1fr; }
    NodeScreen TabPane { padding: 0; }
    """
    BINDINGS = [
        Binding("d", "drain", "Drain", id="node.drain"),
        Binding("e", "eligibility", "Eligibility", id="node.eligibility"),
        Binding("1", "tab('allocs')", "Allocs", show=False, id="node.tab.allocs"),
        Binding("2", "tab('drivers')", "Drivers", show=False, id="node.tab.drivers"),
        Binding("3", "tab('events')", "Events", show=False, id="node.tab.events"),
        Binding("4", "tab('attributes')", "Attributes", show=False, id="node.tab.attributes"),
    ]

    def __init__(self, node_id: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.node: dict[str, Any] | None = None
        self.allocs: list[dict[str, Any]] = []

    def context_text(self) -> str:
        name = (self.node or {}).get("Name") or self.node_id[:8]
        return f"Node {name}"

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static("loading node…", id="summary")
        with TabbedContent(initial="allocs"):
            with TabPane("Allocations [1]", id="allocs"):
                yield ResourceTable(ALLOC_COLUMNS, id="allocs-table")
            with TabPane("Drivers [2]", id="drivers"):
                yield ResourceTable(DRIVER_COLUMNS, id="drivers-table")
            with TabPane("Events [3]", id="events"):
                yield ResourceTable(EVENT_COLUMNS, id="events-table")
            with TabPane("Attributes [4]", id="attributes"):
                yield ResourceTable(ATTRIBUTE_COLUMNS, id="attributes-table")
        yield Footer()

    def on_mount(self) -> None:
        self.start_watches()
        self.query_one("#allocs-table", ResourceTable).focus()

    def start_watches(self) -> None:
        node_id = self.node_id
        self.watch_api("node", lambda c, i: c.node(node_id, index=i or None, wait=WAIT_S))
        self.watch_api(
            "node.allocs", lambda c, i: c.node_allocations(node_id, index=i or None, wait=WAIT_S)
        )

    def on_data_changed(self, message: DataChanged) -> None:
        now = datetime.now(UTC)
        if message.source == "node":
            self.node = dict(message.data or {})
            self.query_one("#drivers-table", ResourceTable).set_rows(driver_rows(self.node, now))
            self.query_one("#events-table", ResourceTable).set_rows(event_rows(self.node))
            self.query_one("#attributes-table", ResourceTable).set_rows(attribute_rows(self.node))
            self.console.update_context()
        elif message.source == "node.allocs":
            self.allocs = list(message.data or [])
            self.query_one("#allocs-table", ResourceTable).set_rows(alloc_rows(self.allocs, now))
        else:
            return
        if self.node is not None:
            self.query_one("#summary", Static).update(summary(self.node, self.allocs))
        self.console.connection_ok()

    def on_data_table_row_selected(self, event: ResourceTable.RowSelected) -> None:
        if event.data_table.id == "allocs-table" and event.row_key.value is not None:
            self.console.open_alloc(str(event.row_key.value))

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}-table", ResourceTable).focus()

    def action_drain(self) -> None:
        if self.node is not None:
            node_actions.drain(self, self.client, self.node)

    def action_eligibility(self) -> None:
        if self.node is not None:
            node_actions.toggle_eligibility(self, self.client, self.node)
