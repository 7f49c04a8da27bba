"""Service: one service name's registrations — a row per instance (alloc, job,
node, address:port, health, checks) and, below, the highlighted instance's
checks with their last output.

A blocking watch on `/v1/service/:name` keeps it live. `a` / `enter` opens the
instance's allocation, `J` its job; `d` deletes the registration (asks
first, hidden with --read-only), as `nomad service delete` does: meant
for registrations a lost allocation left behind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from nomadtui.cli.format import from_unix_nano, pretty_time_diff

from ..messages import DataChanged
from ..permissions import SUBMIT_JOB
from ..watch import WAIT_S
from ..widgets.confirm import ConfirmScreen
from ..widgets.resource_table import Column, ResourceTable, Row
from .base import ConsoleScreen, ContextBar
from .services import (
    HEALTH_RANK,
    HEALTH_STYLE,
    health_text,
    instances_text,
    tags_text,
    worst_health,
)

INSTANCE_COLUMNS = (
    Column("alloc", "Alloc", width=8),
    Column("job", "Job", width=10, priority=2),
    Column("node", "Node", width=8, priority=3),
    Column("address", "Address", width=21),
    Column("health", "Health", width=9),
    Column("checks", "Checks", width=12, priority=1),
)


def address(reg: dict[str, Any]) -> str:
    host, port = str(reg.get("Address", "")), int(reg.get("Port") or 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def checks_summary(reg: dict[str, Any]) -> Text:
    """`2/3 passing`, or `-` for an instance without checks."""
    checks = reg.get("Checks") or []
    if not checks:
        return Text("-", style="dim")
    ok = sum(1 for c in checks if c.get("Status") == "passing")
    style = "green" if ok == len(checks) else "red" if ok == 0 else "yellow"
    return Text(f"{ok}/{len(checks)} passing", style=style)


def instance_rows(regs: list[dict[str, Any]]) -> list[Row]:
    # the sickest instances first: they are why anyone opens this view
    ordered = sorted(
        regs,
        key=lambda r: (
            -HEALTH_RANK.get(str(r.get("Health") or ""), 1),
            str(r.get("JobID", "")),
            str(r.get("AllocID", "")),
        ),
    )
    return [
        (
            str(r.get("ID", "")),
            (
                str(r.get("AllocID", ""))[:8],
                str(r.get("JobID", "")),
                str(r.get("NodeID", ""))[:8],
                address(r),
                health_text(str(r.get("Health") or "")),
                checks_summary(r),
            ),
        )
        for r in ordered
    ]


def header(name: str, namespace: str, regs: list[dict[str, Any]]) -> Text:
    text = Text()
    text.append(name, style="bold")
    text.append(f"  ns:{namespace or 'default'}  instances ")
    text.append_text(instances_text(regs))
    text.append(" healthy  ")
    text.append_text(health_text(worst_health(regs)))
    tags = sorted({t for r in regs for t in r.get("Tags") or []})
    text.append(f"\ntags [{tags_text(tags)}]", style="dim")
    return text


def checks_text(reg: dict[str, Any] | None, now: datetime) -> Text:
    """Each check of the instance: status, name, when it last ran, its output."""
    if reg is None:
        return Text("no instance selected", style="dim")
    checks = reg.get("Checks") or []
    if not checks:
        return Text(
            f"{str(reg.get('AllocID', ''))[:8]}: no checks (counts as healthy)", style="dim"
        )
    text = Text()
    for i, c in enumerate(sorted(checks, key=lambda c: str(c.get("Name", "")))):
        status = str(c.get("Status", ""))
        if i:
            text.append("\n")
        text.append(f"{status:<8}", style=HEALTH_STYLE.get(status, "yellow"))
        text.append(f" {c.get('Name', '')}", style="bold")
        ran = from_unix_nano(c.get("Timestamp"))
        text.append(f"  {pretty_time_diff(ran, now) if ran else 'never run'}", style="dim")
        output = str(c.get("Output") or "").strip()
        for line in output.splitlines() or ["(no output)"]:
            text.append(f"\n  {line}", style="" if output else "dim")
    return text


class ServiceScreen(ConsoleScreen):
    VIEW_TITLE = "Service"
    MUTATING = frozenset({"delete"})
    NEEDS = {"delete": SUBMIT_JOB}
    DEFAULT_CSS = """
    ServiceScreen #header {
        height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    ServiceScreen .section { height: 1; padding: 0 1; background: $boost; }
    ServiceScreen #instances { height: 1fr; }
    ServiceScreen #checks-box { height: auto; max-height: 40%; padding: 0 1; }
    ServiceScreen #checks { height: auto; }
    """
    BINDINGS = [
        Binding("a", "open_alloc", "Alloc", id="service.alloc"),
        Binding("J", "open_job", "Job", id="service.job"),
        Binding("d", "delete", "Delete", id="service.delete"),
    ]

    def __init__(self, name: str, namespace: str = "") -> None:
        super().__init__()
        self.service_name = name
        self.namespace = namespace
        self.regs: list[dict[str, Any]] = []
        # held, not queried: data can arrive before the scroll box's child is mounted
        self._checks_title = Static("Checks", id="checks-title", classes="section")
        self._checks = Static("", id="checks")

    def acl_namespace(self) -> str:
        return self.namespace or self.console.namespace

    def context_text(self) -> str:
        return f"Service {self.service_name}"

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static("loading service…", id="header")
        yield ResourceTable(INSTANCE_COLUMNS, id="instances")
        yield self._checks_title
        with VerticalScroll(id="checks-box"):
            yield self._checks
        yield Footer()

    def on_mount(self) -> None:
        self.start_watches()
        self.query_one("#instances", ResourceTable).focus()

    def start_watches(self) -> None:
        name, ns = self.service_name, self.namespace or None
        self.watch_api(
            "service", lambda c, i: c.service(name, namespace=ns, index=i or None, wait=WAIT_S)
        )

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#instances", ResourceTable)

    def selected(self) -> dict[str, Any] | None:
        key = self.table.current_key
        return next((r for r in self.regs if r.get("ID") == key), None)

    def on_data_changed(self, message: DataChanged) -> None:
        if message.source != "service":
            return
        self._last_failure = ""
        self.regs = list(message.data or [])
        self.query_one("#header", Static).update(
            header(self.service_name, self.namespace, self.regs)
        )
        self.table.set_rows(instance_rows(self.regs))
        self._show_checks()
        self.console.connection_ok()

    def _show_checks(self) -> None:
        reg = self.selected()
        title = f"Checks of {str(reg.get('AllocID', ''))[:8]}" if reg else "Checks"
        self._checks_title.update(title)
        self._checks.update(checks_text(reg, datetime.now(UTC)))

    def on_data_table_row_highlighted(self, event: ResourceTable.RowHighlighted) -> None:
        self._show_checks()

    def on_data_table_row_selected(self, event: ResourceTable.RowSelected) -> None:
        self.action_open_alloc()

    def action_open_alloc(self) -> None:
        reg = self.selected()
        if reg is not None and reg.get("AllocID"):
            self.console.open_alloc(str(reg["AllocID"]))

    def action_open_job(self) -> None:
        reg = self.selected()
        if reg is not None and reg.get("JobID"):
            self.console.open_job(str(reg["JobID"]))

    def action_delete(self) -> None:
        reg = self.selected()
        if reg is None:
            return
        reg_id, name = str(reg.get("ID", "")), self.service_name
        ns, client = str(reg.get("Namespace") or self.namespace) or None, self.client
        label = f"{name} of allocation {str(reg.get('AllocID', ''))[:8]} ({address(reg)})"

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_api(
                    f"Delete registration {label}",
                    lambda: client.delete_service(name, reg_id, namespace=ns),
                    lambda resp: f"Deleted service registration {label}",
                )

        self.app.push_screen(
            ConfirmScreen(
                f"Delete the service registration of {label}?",
                confirm_label="Delete",
            ),
            answered,
        )
