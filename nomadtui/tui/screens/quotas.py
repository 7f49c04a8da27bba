"""Quotas (`:quotas`, or `u` in the namespace picker): usage bars per namespace.

One row per namespace the token can see: its quota, and CPU and memory in
use against that quota's limit for the console's region (`global` unless
set), as Nomad's `quota status` shows them (0 = unlimited, negative =
forbidden). Namespaces sharing a quota show the same usage: a quota's usage
is the sum over every namespace attached to it. `enter` switches to the
namespace and opens its jobs.

Driven by blocking queries only: `/v1/namespaces`, `/v1/quotas`, and one
`/v1/quota/usage/:name` watch per quota (started and stopped as quotas
come and go). Read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Input, Static

from nomadtui.client import NomadClient, Response

from ..messages import DataChanged
from ..permissions import QUOTA_READ
from ..watch import WAIT_S, Watch
from ..widgets.bars import quota_bar
from ..widgets.resource_table import Column, ResourceTable, Row
from .base import ContextBar, ResourceScreen

Json = dict[str, Any]
NAMESPACES = "namespaces"
SPECS = "quotas"
USAGE = "usage:"


@dataclass
class QuotaState:
    """What the watches have brought so far."""

    namespaces: list[Json] = field(default_factory=list)
    specs: dict[str, Json] = field(default_factory=dict)
    usage: dict[str, Json] = field(default_factory=dict)


def region_limit(spec: Json, region: str) -> Json:
    """The spec's limit for `region` (or its first), as {Hash, Region, RegionLimit}."""
    limits = list(spec.get("Limits") or [])
    for limit in limits:
        if limit.get("Region") == region:
            return dict(limit)
    return dict(limits[0]) if limits else {}


def used_for(usage: Json, limit: Json) -> Json:
    """The usage entry matching `limit` (by hash, as Nomad keys it, else region)."""
    used = usage.get("Used") or {}
    if limit.get("Hash") in used:
        return dict(used[limit["Hash"]].get("RegionLimit") or {})
    for entry in used.values():
        if entry.get("Region") == limit.get("Region"):
            return dict(entry.get("RegionLimit") or {})
    return {}


def quota_rows(state: QuotaState, region: str) -> list[Row]:
    rows: list[Row] = []
    for ns in sorted(state.namespaces, key=lambda n: str(n.get("Name", ""))):
        name, quota = str(ns.get("Name", "")), str(ns.get("Quota") or "")
        if not quota:
            none = Text("no quota", style="dim")
            rows.append((name, (name, Text("-", style="dim"), none, none)))
            continue
        spec = state.specs.get(quota)
        if spec is None:
            waiting = Text("…", style="dim")
            rows.append((name, (name, quota, waiting, waiting)))
            continue
        limit = region_limit(spec, region)
        have = limit.get("RegionLimit") or {}
        used = used_for(state.usage.get(quota) or {}, limit)
        rows.append(
            (
                name,
                (
                    name,
                    quota,
                    quota_bar(int(used.get("CPU") or 0), int(have.get("CPU") or 0), "MHz"),
                    quota_bar(
                        int(used.get("MemoryMB") or 0), int(have.get("MemoryMB") or 0), "MiB"
                    ),
                ),
            )
        )
    return rows


def usage_fetch(name: str) -> Callable[[NomadClient, int], Response]:
    def fetch(client: NomadClient, index: int) -> Response:
        return client.get(f"/v1/quota/usage/{name}", index=index or None, wait=WAIT_S)

    return fetch


class QuotasScreen(ResourceScreen):
    VIEW_TITLE = "Quotas"
    SOURCE = NAMESPACES
    DEFAULT_CSS = """
    QuotasScreen #quota-note { height: 1; padding: 0 1; color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis; }
    """
    COLUMNS = (
        Column("namespace", "Namespace", width=12),
        Column("quota", "Quota", width=10, priority=1),
        Column("cpu", "CPU", width=24),
        Column("memory", "Memory", width=24),
    )

    def __init__(self) -> None:
        super().__init__()
        self.state = QuotaState()
        self._usage_watches: dict[str, Watch] = {}

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Input(placeholder="filter (esc to clear)", id="filter", classes="hidden")
        yield ResourceTable(self.columns(), id="table")
        yield Static("", id="quota-note")
        yield Footer()

    @property
    def quota_region(self) -> str:
        return self.client.config.region or "global"

    def start_watches(self) -> None:
        self.state = QuotaState()
        self._usage_watches = {}
        self.watch_api(
            NAMESPACES, lambda c, i: c.get("/v1/namespaces", index=i or None, wait=WAIT_S)
        )
        self.watch_api(SPECS, lambda c, i: c.get("/v1/quotas", index=i or None, wait=WAIT_S))
        denied = self.console.permissions.denied(QUOTA_READ, "")
        self.query_one("#quota-note", Static).update(
            f"[red]This token {denied}: quota usage cannot be shown.[/red]"
            if denied
            else f"CPU and memory in use vs each namespace's quota (region {self.quota_region})"
        )

    def fetch(self, client: NomadClient, index: int) -> Response:
        return client.get("/v1/namespaces", index=index or None, wait=WAIT_S)

    def _watch_usage(self, names: set[str]) -> None:
        """One usage watch per quota in use; quotas that went away stop theirs."""
        for name in set(self._usage_watches) - names:
            watch = self._usage_watches.pop(name)
            watch.stop()
            self.watches.remove(watch)
            self.state.usage.pop(name, None)
        for name in sorted(names - set(self._usage_watches)):
            self._usage_watches[name] = self.watch_api(USAGE + name, usage_fetch(name))

    def on_data_changed(self, message: DataChanged) -> None:
        source = message.source
        if source == NAMESPACES:
            self.state.namespaces = list(message.data or [])
        elif source == SPECS:
            self.state.specs = {str(q.get("Name", "")): q for q in message.data or []}
            self._watch_usage(set(self.state.specs))
        elif source.startswith(USAGE):
            self.state.usage[source[len(USAGE) :]] = dict(message.data or {})
        else:
            return
        message.prevent_default()
        self._last_failure = ""
        self.console.connection_ok()
        self.table.set_rows(self.rows(self.state))

    def rows(self, data: Any) -> list[Row]:
        return quota_rows(self.state, self.quota_region)

    def open_item(self, key: str) -> None:
        self.console.set_namespace(key)
        self.console.switch_mode("jobs")
