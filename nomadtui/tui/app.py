"""The console's entry point and its first screen: jobs and nodes, live.

A deliberately small console until the console issue lands: it connects
through the API client only, refreshes in a worker thread (never touching
widgets from it), shows connection problems on screen and keeps retrying.
`--dev` first starts an embedded dev agent and stops it on quit.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from controlplane.errors import NomadError
from nomadtui.client import NomadClient

REFRESH_S = 2.0


@dataclass
class Snapshot:
    """What one refresh read from the API (or the error it got)."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def _summary(job: dict[str, Any]) -> str:
    groups = (job.get("JobSummary") or {}).get("Summary") or {}
    running = sum(g.get("Running", 0) for g in groups.values())
    pending = sum(g.get("Starting", 0) + g.get("Queued", 0) for g in groups.values())
    failed = sum(g.get("Failed", 0) + g.get("Lost", 0) for g in groups.values())
    return f"{running} running, {pending} pending, {failed} failed"


class ConsoleApp(App[None]):
    TITLE = "nomadtui"
    CSS = """
    #status { height: 1; padding: 0 1; }
    #status.error { background: $error; color: $text; }
    DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, client: NomadClient, read_only: bool = False) -> None:
        super().__init__()
        self.client = client
        self.read_only = read_only
        self.snapshot = Snapshot()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"connecting to {self.client.address} ...", id="status")
        jobs: DataTable[str] = DataTable(id="jobs", cursor_type="row")
        jobs.add_columns("ID", "Type", "Priority", "Status", "Allocations")
        yield jobs
        nodes: DataTable[str] = DataTable(id="nodes", cursor_type="row")
        nodes.add_columns("ID", "Name", "DC", "Eligibility", "Status")
        yield nodes
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.client.address
        self.action_refresh()
        self.set_interval(REFRESH_S, self.action_refresh)

    def action_refresh(self) -> None:
        self.run_worker(self._fetch, thread=True, exclusive=True, group="refresh")

    def _fetch(self) -> None:
        try:
            snap = Snapshot(jobs=list(self.client.jobs().data or []),
                            nodes=list(self.client.nodes().data or []))
        except NomadError as exc:
            snap = Snapshot(error=str(exc))
        self.call_from_thread(self.show, snap)

    def show(self, snap: Snapshot) -> None:
        status = self.query_one("#status", Static)
        if snap.error:
            # keep the last good data on screen; say what is wrong
            status.update(f"cannot reach {self.client.address}: {snap.error} (retrying)")
            status.add_class("error")
            return
        status.remove_class("error")
        mode = "  [read-only]" if self.read_only else ""
        status.update(f"{len(snap.jobs)} jobs, {len(snap.nodes)} nodes{mode}")
        self.snapshot = snap
        jobs = self.query_one("#jobs", DataTable)
        jobs.clear()
        for j in snap.jobs:
            status_text = "dead (stopped)" if j.get("Stop") else j.get("Status", "")
            jobs.add_row(j["ID"], j.get("Type", ""), str(j.get("Priority", "")), status_text,
                         _summary(j), key=j["ID"])
        nodes = self.query_one("#nodes", DataTable)
        nodes.clear()
        for n in snap.nodes:
            nodes.add_row(n["ID"][:8], n.get("Name", ""), n.get("Datacenter", ""),
                          n.get("SchedulingEligibility", ""), n.get("Status", ""), key=n["ID"])


def run_console(args: argparse.Namespace) -> int:
    """`nomadtui [--dev] [--read-only] [-address A]`: open the console."""
    agent = None
    address = getattr(args, "address", None)
    if getattr(args, "dev", False):
        from controlplane.agent.agent import start_dev_agent

        # the agent logs to a file: the terminal belongs to the console
        fd, log_path = tempfile.mkstemp(prefix="nomadtui-dev-", suffix=".log")
        os.close(fd)
        logging.basicConfig(filename=log_path, level=logging.INFO)
        agent = start_dev_agent()
        address = f"http://{agent.config.http_addr}"
    client = NomadClient(
        address=address,
        token=getattr(args, "token", None),
        namespace=getattr(args, "namespace", None),
        region=getattr(args, "region", None),
    )
    try:
        ConsoleApp(client, read_only=getattr(args, "read_only", False)).run()
    finally:
        client.close()
        if agent is not None:
            agent.shutdown()
    return 0
