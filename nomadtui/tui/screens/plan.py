"""PlanScreen: pick a job file, preview its plan, run it with check-index.

Flow: a path (typed, picked, or a server job copied to `<job>.json`) is
parsed locally, planned (`PUT /v1/job/<id>/plan`, Diff=true) and shown as
Nomad's CLI shows it, coloured; `r` confirms and registers with check-index
= the plan's Job Modify Index, so a job changed by someone else since the
plan is refused rather than overwritten. `e` edits the spec in `$EDITOR`
and re-plans. Parsing, planning and submitting run in thread workers that
post messages; only handlers here touch widgets.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from controlplane.errors import JobSpecError, NomadError
from nomadtui.client import NomadClient, one_line

from ..permissions import SUBMIT_JOB
from ..widgets.confirm import ConfirmScreen
from ..widgets.plan_summary import headline, run_question, summary_panel
from ..widgets.plan_view import HangingText, error_text, plan_lines
from .base import ConsoleScreen, ContextBar
from .plan_edit import EditorError, editor_command, run_editor
from .plan_messages import Failure, JobSubmitted, PlanFailed, PlanReady, SubmitFailed
from .plan_picker import FilePickerScreen
from .plan_spec import (
    PlanResult,
    SpecReadError,
    check_index_conflict,
    load_spec,
    plan_spec,
    submit_plan,
    write_server_spec,
)

WIDE_COLUMNS = 120
"""From this width on, the summary sits in a side panel next to the diff."""


class PlanScreen(ConsoleScreen):
    VIEW_TITLE = "Plan"
    MUTATING = frozenset({"run"})
    # Nomad's plan endpoint needs submit-job as well
    NEEDS = {"run": SUBMIT_JOB, "replan": SUBMIT_JOB}
    DEFAULT_CSS = """
    PlanScreen #headline { height: auto; max-height: 6; padding: 0 1; background: $boost; }
    PlanScreen #error {
        height: auto; max-height: 12; margin: 0 1; padding: 0 1;
        border: round $error; display: none;
    }
    PlanScreen #error.shown { display: block; }
    PlanScreen #body { height: 1fr; }
    PlanScreen #preview { width: 1fr; height: 1fr; padding: 0 1; }
    PlanScreen #preview.stale { opacity: 60%; }
    PlanScreen #summary {
        display: none; width: 46; height: 1fr; padding: 0 1;
        border-left: vkey $primary-background;
    }
    PlanScreen.-wide #summary { display: block; }
    PlanScreen.-wide #headline { display: none; }
    """
    BINDINGS = [
        Binding("r,enter", "run", "Run", key_display="r", id="plan.run"),
        Binding("e", "edit", "Edit", id="plan.edit"),
        Binding("p", "replan", "Re-plan", id="plan.replan"),
        Binding("o", "open_file", "Open file", id="plan.open"),
        Binding("v", "verbose", "Verbose", id="plan.verbose"),
        Binding("j", "scroll('down')", "Down", show=False, id="plan.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="plan.up"),
        Binding("g", "scroll('top')", "Top", show=False, id="plan.top"),
        Binding("G", "scroll('bottom')", "Bottom", show=False, id="plan.bottom"),
    ]

    def __init__(self, path: str | None = None, job_id: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.job_id = job_id
        self.from_server = False
        self.plan: PlanResult | None = None
        self.verbose = False
        # the styled lines on display (the diff, dry-run and index)
        self.preview: list[Text] = []
        self.busy = ""
        self.generation = 0
        self._tmpdir: str | None = None

    # -- layout ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static(self._idle_headline(), id="headline")
        yield Static(id="error")
        with Horizontal(id="body"):
            with VerticalScroll(id="preview"):
                yield Static(id="diff")
            with VerticalScroll(id="summary"):
                yield Static(id="summary-body")
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(self.app.size.width >= WIDE_COLUMNS, "-wide")
        self._update_context()
        self.query_one("#preview").focus()
        if self.path is None and self.job_id is None:
            self.action_open_file()
        else:
            self.replan()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE_COLUMNS, "-wide")

    def on_unmount(self) -> None:
        # (ConsoleScreen.on_unmount runs too: Textual calls handlers along the MRO)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def context_text(self) -> str:
        source = self.job_id if self.from_server or not self.path else self.path
        return f"Plan {source}" if source else "Plan"

    def _update_context(self) -> None:
        self.query_one(ContextBar).update(self.console.context_line(self.context_text()))

    def _idle_headline(self) -> str:
        if self.path or self.job_id:
            return f"Planning {self.path or self.job_id} …"
        return "Open a job file (o) to plan it"

    def acl_namespace(self) -> str:
        job = self.plan.spec.job if self.plan is not None else {}
        return str(job.get("Namespace") or self.console.namespace)

    def action_applicable(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit", "replan", "verbose"):
            return True if (self.path or self.job_id) and not self.busy else None
        return True

    def _set_busy(self, what: str) -> None:
        self.busy = what
        self.query_one("#preview").loading = bool(what)
        self.refresh_bindings()

    # -- planning ------------------------------------------------------------
    def replan(self) -> None:
        """Parse the current path (or fetch the server job) and plan it."""
        self.generation += 1
        self._set_busy("planning")
        self.query_one("#headline", Static).update(self._idle_headline())
        if self.path or not self.job_id:
            source: str | tuple[str, str] = self.path or ""
        else:
            source = (self.job_id, self._spec_dir())  # fetch it from the server first
        self._plan_worker(self.client, self.generation, source, self.from_server)

    @work(thread=True, group="plan")
    def _plan_worker(
        self,
        client: NomadClient,
        generation: int,
        source: str | tuple[str, str],
        from_server: bool,
    ) -> None:
        # runs off the UI thread: everything it needs comes in as arguments
        path = source if isinstance(source, str) else None
        try:
            if isinstance(source, tuple):
                job_id, directory = source
                path = write_server_spec(client.job(job_id).data or {}, directory)
                from_server = True
            assert path is not None
            spec = load_spec(path, from_server)
            self.post_message(PlanReady(generation, plan_spec(client, spec)))
        except JobSpecError as err:
            source = _read_quietly(path)
            failure = Failure("Error parsing job file", str(err), source, err.line)
            self.post_message(PlanFailed(generation, failure, path, from_server))
        except SpecReadError as err:
            failure = Failure("Cannot read job file", str(err))
            self.post_message(PlanFailed(generation, failure, path, from_server))
        except NomadError as err:
            failure = Failure("Error during plan", one_line(str(err)))
            self.post_message(PlanFailed(generation, failure, path, from_server))
        except Exception as err:  # worker boundary: report, never take the console down
            failure = Failure("Error during plan", f"{type(err).__name__}: {err}")
            self.post_message(PlanFailed(generation, failure, path, from_server))

    def _spec_dir(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="nomadtui-plan-")
        return self._tmpdir

    def on_plan_ready(self, message: PlanReady) -> None:
        if message.generation != self.generation:
            return  # a newer plan is on its way
        plan = message.plan
        self.plan = plan
        self.path = plan.spec.path
        self.from_server = plan.spec.from_server
        self.job_id = plan.spec.job_id
        self._clear_error()
        self._show_plan()
        self._set_busy("")
        self._update_context()
        self.console.connection_ok()

    def on_plan_failed(self, message: PlanFailed) -> None:
        if message.generation != self.generation:
            return
        if message.path and self.path is None:
            self.path, self.from_server = message.path, message.from_server
        # the last good preview stays, dimmed: it no longer matches the file
        self.plan = None
        self.query_one("#preview").add_class("stale")
        f = message.failure
        self._show_error(error_text(f.title, f.message, f.source, f.line))
        self.query_one("#headline", Static).update(f"{f.title} — e edits the file, p re-plans")
        self._set_busy("")

    def _show_plan(self) -> None:
        plan = self.plan
        if plan is None:
            return
        self.query_one("#preview").remove_class("stale")
        self.preview = plan_lines(plan, self.verbose)
        self.query_one("#diff", Static).update(HangingText(self.preview))
        self.query_one("#headline", Static).update(headline(plan))
        self.query_one("#summary-body", Static).update(summary_panel(plan))

    def _show_error(self, content: Any) -> None:
        box = self.query_one("#error", Static)
        box.update(content)
        box.add_class("shown")

    def _clear_error(self) -> None:
        self.query_one("#error", Static).remove_class("shown")

    # -- actions ---------------------------------------------------------------
    def action_replan(self) -> None:
        self.replan()

    def action_verbose(self) -> None:
        self.verbose = not self.verbose
        self._show_plan()
        self.notify(f"verbose diff {'on' if self.verbose else 'off'}", timeout=1.5)

    def action_scroll(self, where: str) -> None:
        preview = self.query_one("#preview", VerticalScroll)
        {
            "down": preview.scroll_down,
            "up": preview.scroll_up,
            "top": preview.scroll_home,
            "bottom": preview.scroll_end,
        }[where]()

    def action_open_file(self) -> None:
        self.app.push_screen(FilePickerScreen(), self._picked)

    def _picked(self, path: str | None) -> None:
        if path is None:
            if self.path is None and self.job_id is None and self.app.screen is self:
                self.app.pop_screen()  # nothing to plan: back where we came from
            return
        self.path, self.job_id, self.from_server = path, None, False
        self.replan()

    # -- run ---------------------------------------------------------------------
    def action_run(self) -> None:
        # never disabled by state: a disabled `r` would fall through to the
        # app's `r` and open a second plan screen (a token without submit-job
        # disables it, and the app then says why instead of falling through)
        plan = self.plan
        if self.busy:
            self.notify(f"{self.busy} …", timeout=1.5)
            return
        if plan is None:
            self.notify(
                "Nothing to run: the spec has no valid plan (e edits, p re-plans)",
                severity="warning",
            )
            return
        question, destructive = run_question(plan)
        self.app.push_screen(
            ConfirmScreen(question, "Run", destructive=destructive),
            lambda ok: self._confirmed(plan, ok),
        )

    def _confirmed(self, plan: PlanResult, ok: bool | None) -> None:
        if not ok or plan is not self.plan:
            return
        self._set_busy("submitting")
        self._submit_worker(self.client, plan)

    @work(thread=True, group="submit")
    def _submit_worker(self, client: NomadClient, plan: PlanResult) -> None:
        try:
            resp = submit_plan(client, plan)
            self.post_message(JobSubmitted(plan.spec.job_id, str(resp.get("EvalID") or "")))
        except NomadError as err:
            conflict = check_index_conflict(err)
            self.post_message(SubmitFailed(conflict or one_line(str(err)), conflict is not None))
        except Exception as err:  # worker boundary
            self.post_message(SubmitFailed(f"{type(err).__name__}: {err}", False))

    def on_job_submitted(self, message: JobSubmitted) -> None:
        self._set_busy("")
        evaluation = f" (eval {message.eval_id[:8]})" if message.eval_id else ""
        self.notify(f"Job {message.job_id} submitted{evaluation}")
        if self.app.screen is self:
            self.app.pop_screen()
        self.console.open_job(message.job_id)

    def on_submit_failed(self, message: SubmitFailed) -> None:
        self._set_busy("")
        if not message.conflict:
            self._show_error(error_text("Error submitting job", message.message))
            self.notify(message.message, title="Error submitting job", severity="error")
            return
        # the job changed since the plan: this plan must not be run any more
        self.plan = None
        self.query_one("#preview").add_class("stale")
        self.refresh_bindings()
        self._show_error(
            error_text(
                "Job not updated: it changed on the server since this plan",
                f"{message.message}\nJob not updated. Press p to re-plan against the new version.",
            )
        )
        self.app.push_screen(
            ConfirmScreen(
                f"[b]{escape(message.message)}[/b]\nJob not updated.\n\n"
                "Someone changed the job since this plan. Re-plan now?",
                "Re-plan",
                destructive=False,
            ),
            lambda ok: self.replan() if ok else None,
        )

    # -- edit ------------------------------------------------------------------
    def action_edit(self) -> None:
        path = self.path
        if path is None or self.busy:
            return
        if self.from_server:
            self._edit(path)  # our own temporary copy: nothing to confirm
            return
        editor = editor_command(path)[0]
        self.app.push_screen(
            ConfirmScreen(
                f"Edit [b]{escape(path)}[/b] in {escape(editor)}?\n"
                "Changes are saved to the file, then planned again.",
                "Edit",
                destructive=False,
            ),
            lambda ok: self._edit(path) if ok else None,
        )

    def _edit(self, path: str) -> None:
        try:
            status = run_editor(self.app, path)
        except EditorError as err:
            self.notify(str(err), title="Cannot edit", severity="error")
            return
        if status != 0:
            self.notify(f"editor exited with status {status}", severity="warning")
        self.replan()


def _read_quietly(path: str | None) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return ""
