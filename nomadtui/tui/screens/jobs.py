"""Jobs: the start view — ID, type, priority, status, allocation summary, submitted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.binding import Binding

from nomadtui.cli.format import from_unix_nano, pretty_time_diff
from nomadtui.client import NomadClient, Response

from ..watch import WAIT_S
from ..widgets.bars import summary_bar
from ..widgets.resource_table import Column, Row
from .base import ResourceScreen

STATUS_STYLE = {"running": "green", "pending": "yellow", "dead": "dim"}


def job_counts(job: dict[str, Any]) -> tuple[int, int, int]:
    groups = (job.get("JobSummary") or {}).get("Summary") or {}
    running = sum(g.get("Running", 0) for g in groups.values())
    pending = sum(g.get("Starting", 0) + g.get("Queued", 0) for g in groups.values())
    failed = sum(g.get("Failed", 0) + g.get("Lost", 0) for g in groups.values())
    return running, pending, failed


def job_status(job: dict[str, Any]) -> Text:
    status = "dead (stopped)" if job.get("Stop") else str(job.get("Status", ""))
    return Text(status, style=STATUS_STYLE.get(str(job.get("Status")), ""))


def job_type(job: dict[str, Any]) -> str:
    kind = str(job.get("Type", ""))
    if job.get("Periodic"):
        kind += "/periodic"
    if job.get("ParameterizedJob"):
        kind += "/parameterized"
    return kind


class JobsScreen(ResourceScreen):
    VIEW_TITLE = "Jobs"
    BINDINGS = [Binding("r", "app.plan", "Run/Plan", id="jobs.plan")]
    SOURCE = "jobs"
    NAMESPACED = True
    COLUMNS = (
        Column("id", "ID"),
        Column("type", "Type", priority=3),
        Column("priority", "Priority", width=8, priority=4),
        Column("status", "Status", width=14),
        Column("allocs", "Allocs (run/pend/fail)", width=22, priority=1),
        Column("submitted", "Submitted", width=10, priority=2),
    )

    def fetch(self, client: NomadClient, index: int) -> Response:
        return client.jobs(index=index or None, wait=WAIT_S)

    def rows(self, data: Any) -> list[Row]:
        now = datetime.now(UTC)
        out: list[Row] = []
        for j in data or []:
            submitted = pretty_time_diff(from_unix_nano(j.get("SubmitTime")), now)
            out.append((
                self.job_key(j),
                (j["ID"], job_type(j), str(j.get("Priority", "")), job_status(j),
                 summary_bar(*job_counts(j)), submitted),
            ))
        return out

    def job_key(self, job: dict[str, Any]) -> str:
        # a job ID is unique only within its namespace
        if self.all_namespaces:
            return f"{job.get('Namespace', '')}/{job['ID']}"
        return str(job["ID"])

    def row_namespaces(self, data: Any) -> dict[str, str]:
        return {self.job_key(j): str(j.get("Namespace", "")) for j in data or []}

    def open_item(self, key: str) -> None:
        if self.all_namespaces and "/" in key:
            namespace, _, job_id = key.partition("/")
            self.console.open_job(job_id, namespace)
        else:
            self.console.open_job(key)
