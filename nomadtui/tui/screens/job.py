"""JobScreen: `nomad status JOB` as a live view — Overview (facts, group summary,
latest deployment, placement failures), Allocations, Evaluations, Versions
(diff between any two) and Spec tabs.

Six watches (job, summary, allocations, evaluations, latest deployment,
versions) keep it current through blocking queries; their data arrives as
DataChanged messages and is drawn on the UI thread. The actions it offers
live in JobActions; the pure renderers in job_overview / job_tables /
job_versions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from controlplane.errors import NomadError
from nomadtui.client import one_line

from ..messages import DataChanged
from ..watch import WAIT_S
from ..widgets.resource_table import ResourceTable
from .base import ContextBar
from .job_actions import JobActions
from .job_overview import overview
from .job_tables import ALLOC_COLUMNS, EVAL_COLUMNS, alloc_rows, eval_detail, eval_rows
from .job_versions import VERSION_COLUMNS, diff_view, version_of, version_rows

Json = dict[str, Any]
TABS = ("overview", "allocs", "evals", "versions", "spec")
TAB_LABELS = {
    "overview": "Overview",
    "allocs": "Allocs",
    "evals": "Evals",
    "versions": "Versions",
    "spec": "Spec",
}
RELATIVE_TIMES_S = 5.0


class SubmissionFetched(Message):
    """The job's source as submitted (HCL), or why it is not available."""

    def __init__(self, version: int, source: str, note: str) -> None:
        super().__init__()
        self.version = version
        self.source = source
        self.note = note


class JobScreen(JobActions):
    DEFAULT_CSS = """
    JobScreen TabbedContent { height: 1fr; }
    JobScreen TabPane { padding: 0; }
    JobScreen #overview-scroll, JobScreen #spec-scroll { height: 1fr; }
    JobScreen #eval-table, JobScreen #version-table { height: auto; max-height: 9; }
    JobScreen #eval-scroll, JobScreen #diff-scroll {
        height: 1fr; border-top: solid $panel-lighten-2;
    }
    JobScreen #spec-body, JobScreen #diff-body { width: auto; }
    JobScreen #spec-note {
        height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """
    BINDINGS = [
        *JobActions.ACTION_BINDINGS,
        Binding("space", "pick_version", "Pick base", id="job.pick"),
        Binding("c", "copy_id", "Copy ID", id="job.copy"),
        Binding("j", "cursor(1)", "Down", show=False, id="job.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="job.up"),
        *(
            Binding(str(i + 1), f"tab('{t}')", TAB_LABELS[t], show=False, id=f"job.tab.{t}")
            for i, t in enumerate(TABS)
        ),
    ]

    def __init__(self, job_id: str, namespace: str | None = None) -> None:
        super().__init__(job_id, namespace)
        self.summary: Json | None = None
        self.allocs: list[Json] = []
        self.evals: list[Json] = []
        self.versions: Json | None = None
        self.base_version: int | None = None
        self.spec_version: int | None = None
        self.source = ""
        self.source_note = ""

    def context_text(self) -> str:
        return f"Job {escape(self.job_id)}"

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        with TabbedContent(initial="overview"):
            with (
                TabPane(TAB_LABELS["overview"], id="overview"),
                VerticalScroll(id="overview-scroll"),
            ):
                yield Static(Text("loading…", style="dim"), id="overview-body")
            with TabPane(TAB_LABELS["allocs"], id="allocs"):
                yield ResourceTable(ALLOC_COLUMNS, id="alloc-table")
            with TabPane(TAB_LABELS["evals"], id="evals"):
                yield ResourceTable(EVAL_COLUMNS, id="eval-table")
                with VerticalScroll(id="eval-scroll"):
                    yield Static(id="eval-body")
            with TabPane(TAB_LABELS["versions"], id="versions"):
                yield ResourceTable(VERSION_COLUMNS, id="version-table")
                with ScrollableContainer(id="diff-scroll"):
                    yield Static(id="diff-body")
            with TabPane(TAB_LABELS["spec"], id="spec"):
                yield Static(id="spec-note")
                with ScrollableContainer(id="spec-scroll"):
                    yield Static(id="spec-body")
        yield Footer()

    def on_mount(self) -> None:
        self.start_watches()
        self.query_one("#overview-scroll").focus()
        self.set_interval(RELATIVE_TIMES_S, self._redraw_times)

    def start_watches(self) -> None:
        job_id, ns = self.job_id, self.namespace
        self.watch_api("job", lambda c, i: c.job(job_id, ns, index=i or None, wait=WAIT_S))
        self.watch_api(
            "summary", lambda c, i: c.job_summary(job_id, ns, index=i or None, wait=WAIT_S)
        )
        self.watch_api(
            "allocs",
            lambda c, i: c.job_allocations(job_id, namespace=ns, index=i or None, wait=WAIT_S),
        )
        self.watch_api(
            "evals", lambda c, i: c.job_evaluations(job_id, ns, index=i or None, wait=WAIT_S)
        )
        self.watch_api(
            "deployment", lambda c, i: c.job_deployment(job_id, ns, index=i or None, wait=WAIT_S)
        )
        self.watch_api(
            "versions",
            lambda c, i: c.job_versions(
                job_id, diffs=True, namespace=ns, index=i or None, wait=WAIT_S
            ),
        )

    # -- widgets ------------------------------------------------------------------
    def table(self, name: str) -> ResourceTable:
        return self.query_one(f"#{name}-table", ResourceTable)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def _label(self, tab: str, count: int) -> None:
        self.query_one(TabbedContent).get_tab(tab).label = f"{TAB_LABELS[tab]} {count}"

    # -- data -----------------------------------------------------------------------
    def on_data_changed(self, message: DataChanged) -> None:
        source, data = message.source, message.data
        self.console.connection_ok()
        now = datetime.now(UTC)
        if source == "job":
            self.job = data
            self._draw_overview(now)
            self._draw_spec()
            self.refresh_bindings()
        elif source == "summary":
            self.summary = data
            self._draw_overview(now)
        elif source == "deployment":
            self.deployment = data
            self._draw_overview(now)
            self.refresh_bindings()
        elif source == "allocs":
            self.allocs = list(data or [])
            self.table("alloc").set_rows(alloc_rows(self.allocs, now))
            self._label("allocs", len(self.allocs))
        elif source == "evals":
            self.evals = list(data or [])
            self.table("eval").set_rows(eval_rows(self.evals, now))
            self._label("evals", len(self.evals))
            self._draw_overview(now)
            self._draw_eval(now)
        elif source == "versions":
            self.versions = data
            self._draw_versions(now)

    def _redraw_times(self) -> None:
        now = datetime.now(UTC)
        self._draw_overview(now)
        self.table("alloc").set_rows(alloc_rows(self.allocs, now))
        self.table("eval").set_rows(eval_rows(self.evals, now))

    def _draw_overview(self, now: datetime) -> None:
        body = overview(self.job, self.summary, self.deployment, self.evals, now)
        self.query_one("#overview-body", Static).update(body)

    def _draw_eval(self, now: datetime) -> None:
        key = self.table("eval").current_key
        ev = next((e for e in self.evals if e.get("ID") == key), None)
        self.query_one("#eval-body", Static).update(eval_detail(ev, now))

    def _draw_versions(self, now: datetime) -> None:
        table = self.table("version")
        table.set_rows(version_rows(self.versions, self.base_version, now))
        self._label("versions", len(table.row_keys))
        self._draw_diff()

    def _draw_diff(self) -> None:
        key = self.table("version").current_key
        target = int(key) if key is not None else None
        self.query_one("#diff-body", Static).update(
            diff_view(self.versions, target, self.base_version)
        )

    def _draw_spec(self) -> None:
        if self.job is None:
            return
        version = int(self.job.get("Version") or 0)
        if version != self.spec_version:
            self.spec_version = version
            self._fetch_submission(version)
        note = self.source_note or "loading the submitted source…"
        self.query_one("#spec-note", Static).update(Text(note, no_wrap=True, overflow="ellipsis"))
        text, lexer = (
            (self.source, "terraform") if self.source else (json.dumps(self.job, indent=2), "json")
        )
        self.query_one("#spec-body", Static).update(
            Syntax(text, lexer, theme="ansi_dark", word_wrap=False, line_numbers=False)
        )

    def _fetch_submission(self, version: int) -> None:
        client, job_id, ns = self.client, self.job_id, self.namespace

        def fetch() -> None:
            params = {"version": version, **({"namespace": ns} if ns else {})}
            try:
                data = client.get(f"/v1/job/{job_id}/submission", params).data or {}
            except NomadError as err:
                note = (
                    f"Version {version} as JSON: this server keeps no submitted HCL "
                    f"({one_line(str(err))})."
                )
                self.post_message(SubmissionFetched(version, "", note))
                return
            source = str(data.get("Source") or "")
            fmt = str(data.get("Format") or "hcl2")
            note = (
                f"Version {version} as submitted ({fmt})."
                if source
                else f"Version {version} as JSON: no submitted HCL for it on this server."
            )
            self.post_message(SubmissionFetched(version, source, note))

        self.run_worker(fetch, thread=True, exclusive=True, group="submission")

    def on_submission_fetched(self, message: SubmissionFetched) -> None:
        if message.version == self.spec_version:
            self.source, self.source_note = message.source, message.note
            self._draw_spec()

    # -- events -----------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "eval-table":
            self._draw_eval(datetime.now(UTC))
        elif event.data_table.id == "version-table":
            self._draw_diff()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "alloc-table":
            self.console.open_alloc(str(key))
        elif event.data_table.id == "eval-table":
            self.console.open_eval(str(key))

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        target = {
            "overview": "#overview-scroll",
            "allocs": "#alloc-table",
            "evals": "#eval-table",
            "versions": "#version-table",
            "spec": "#spec-scroll",
        }.get(event.pane.id or "")
        if target:
            self.query_one(target).focus()
        self.refresh_bindings()

    # -- view actions ---------------------------------------------------------------------
    def action_applicable(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick_version":
            return self.is_mounted and self.active_tab == "versions"
        return super().action_applicable(action, parameters)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show_versions(self) -> None:
        self.action_tab("versions")

    def action_cursor(self, step: int) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            if step > 0:
                focused.action_cursor_down()
            else:
                focused.action_cursor_up()
        elif isinstance(focused, ScrollableContainer):
            focused.scroll_relative(y=step, animate=False)

    def action_pick_version(self) -> None:
        key = self.table("version").current_key
        if key is None:
            return
        number = int(key)
        self.base_version = None if self.base_version == number else number
        self._draw_versions(datetime.now(UTC))

    def action_copy_id(self) -> None:
        key = None
        if self.active_tab in ("allocs", "evals"):
            key = self.table(self.active_tab[:-1]).current_key
        key = key or self.job_id
        self.app.copy_to_clipboard(key)
        self.notify(f"copied {key}", timeout=1.5)

    # -- JobActions hooks -------------------------------------------------------------------
    def selected_version(self) -> Json | None:
        if self.active_tab != "versions":
            return None
        key = self.table("version").current_key
        return version_of(self.versions, int(key)) if key is not None else None

    def selected_group(self) -> str | None:
        if self.active_tab == "allocs":
            key = self.table("alloc").current_key
            alloc = next((a for a in self.allocs if a.get("ID") == key), None)
            if alloc is not None:
                return str(alloc.get("TaskGroup", ""))
        return None

    def after_purge(self) -> None:
        if self.app.screen is self:
            self.app.pop_screen()
