"""ScaleScreen: pick a group and a count, see the scheduler's plan, then confirm.

The plan is a dry run (PUT /v1/job/:id/plan with the scaled job) made in a
thread worker whose answer comes back as a message; nothing is changed here.
The screen dismisses with a ScaleRequest carrying the JobModifyIndex the plan
was made against, so the caller can scale with check-index and never apply a
change the user did not see.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from controlplane.errors import NomadError
from nomadtui.cli.plan_render import render_dry_run
from nomadtui.client import NomadClient, one_line

Json = dict[str, Any]

# DesiredTGUpdates keys in the words of `nomad job plan`
UPDATE_WORDS = (
    ("Place", "create"),
    ("Stop", "destroy"),
    ("Migrate", "migrate"),
    ("Canary", "canary"),
    ("InPlaceUpdate", "in-place update"),
    ("DestructiveUpdate", "create/destroy update"),
    ("Ignore", "ignore"),
    ("Preemptions", "preempt"),
)


@dataclass(frozen=True)
class ScaleRequest:
    group: str
    count: int
    job_modify_index: int


def group_counts(job: Json) -> dict[str, int]:
    return {str(g.get("Name", "")): int(g.get("Count") or 0) for g in job.get("TaskGroups") or []}


def scaled(job: Json, group: str, count: int) -> Json:
    out = copy.deepcopy(job)
    for g in out.get("TaskGroups") or []:
        if g.get("Name") == group:
            g["Count"] = count
    return out


def update_words(counts: Json) -> str:
    """`1 create, 1 in-place update` (zero counts left out)."""
    parts = [
        f"{int(counts.get(k) or 0)} {word}" for k, word in UPDATE_WORDS if int(counts.get(k) or 0)
    ]
    return ", ".join(parts) or "no changes"


def destroys(resp: Json) -> bool:
    desired: Json = (resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    return any(
        int((c or {}).get("Stop") or 0) or int((c or {}).get("DestructiveUpdate") or 0)
        for c in desired.values()
    )


def plan_summary(resp: Json, job_type: str) -> Text:
    """Per group `N create, M destroy…`, then the dry-run bullets and warnings."""
    out = Text()
    desired: Json = (resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    for name in sorted(desired):
        out.append(f'Task Group "{name}": ', style="bold")
        words = update_words(desired[name] or {})
        out.append(words + "\n", style="red" if "destroy" in words else "green")
    dry = render_dry_run(resp, job_type)
    out.append(dry, style="red" if "WARNING" in dry else "")
    warnings = (resp.get("Warnings") or "").strip()
    if warnings:
        out.append(f"\nWarnings: {warnings}", style="yellow")
    return out


def blocking_deployment(job: Json, deployment: Json | None) -> str:
    """Why the server will refuse to scale now ("" when it will not): a
    deployment of the current version is still active."""
    if not deployment or deployment.get("JobVersion") != job.get("Version"):
        return ""
    if deployment.get("Status") not in ("running", "paused", "pending", "initializing"):
        return ""
    return (
        f"Deployment {str(deployment.get('ID', ''))[:8]} is {deployment.get('Status')}: "
        "the server refuses to scale until it finishes."
    )


class ScaleScreen(ModalScreen[ScaleRequest | None]):
    DEFAULT_CSS = """
    ScaleScreen { align: center middle; }
    ScaleScreen > Vertical {
        width: 72; height: auto; max-width: 95%; max-height: 95%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    ScaleScreen Input, ScaleScreen Select { width: 1fr; }
    ScaleScreen #inputs { height: auto; }
    ScaleScreen #plan { height: auto; max-height: 10; margin-top: 1; }
    ScaleScreen Horizontal#buttons { height: auto; align-horizontal: right; }
    ScaleScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="scale.cancel")]

    class PlanReady(Message):
        def __init__(self, key: tuple[str, int], resp: Json | None, error: str) -> None:
            super().__init__()
            self.key = key
            self.resp = resp
            self.error = error

    def __init__(
        self,
        client: NomadClient,
        job: Json,
        group: str | None = None,
        deployment: Json | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.job = job
        self.blocked = blocking_deployment(job, deployment)
        self.counts = group_counts(job)
        self.group = group if group in self.counts else next(iter(self.counts), "")
        self.planned: tuple[str, int] | None = None
        self.plan_index = 0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Scale job {self.job.get('ID', '')}", style="bold"))
            with Horizontal(id="inputs"):
                if len(self.counts) > 1:
                    yield Select(
                        [(g, g) for g in self.counts],
                        value=self.group,
                        allow_blank=False,
                        id="group",
                    )
                yield Input(
                    str(self.counts.get(self.group, 0)),
                    type="integer",
                    placeholder="count",
                    id="count",
                )
            yield Static(self._hint(), id="plan")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Scale", id="confirm", variant="warning", disabled=True)

    def _hint(self) -> Text:
        out = Text(
            f'Group "{self.group}" now has {self.counts.get(self.group, 0)}. '
            "Type a count and press enter to see the plan.",
            style="dim",
        )
        if self.blocked:
            out.append(f"\n{self.blocked}", style="yellow")
        return out

    def on_mount(self) -> None:
        self.query_one("#count", Input).focus()

    def _count(self) -> int | None:
        try:
            count = int(self.query_one("#count", Input).value)
        except ValueError:
            return None
        return count if count >= 0 else None

    def on_select_changed(self, event: Select.Changed) -> None:
        self.group = str(event.value)
        self.query_one("#count", Input).value = str(self.counts.get(self.group, 0))
        self._stale()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._stale()

    def _stale(self) -> None:
        self.planned = None
        self.query_one("#confirm", Button).disabled = True
        self.query_one("#plan", Static).update(self._hint())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        count = self._count()
        if count is None:
            self.query_one("#plan", Static).update(
                Text("The count must be a whole number >= 0.", style="red")
            )
            return
        key = (self.group, count)
        self.query_one("#plan", Static).update(Text("planning…", style="dim"))
        job, client = scaled(self.job, self.group, count), self.client

        def plan() -> None:
            try:
                resp = client.plan_job(job, diff=True).data or {}
            except NomadError as err:
                self.post_message(self.PlanReady(key, None, one_line(str(err))))
                return
            self.post_message(self.PlanReady(key, resp, ""))

        self.run_worker(plan, thread=True, exclusive=True, group="plan")

    def on_scale_screen_plan_ready(self, message: PlanReady) -> None:
        count = self._count()
        if message.key != (self.group, count):
            return  # the user changed the values meanwhile
        box = self.query_one("#plan", Static)
        if message.resp is None:
            box.update(Text(f"Plan failed: {message.error}", style="red"))
            return
        summary = plan_summary(message.resp, str(self.job.get("Type") or "service"))
        if self.blocked:
            summary.append(f"\n{self.blocked}", style="yellow")
        box.update(summary)
        self.planned = message.key
        self.plan_index = int(message.resp.get("JobModifyIndex") or 0)
        confirm = self.query_one("#confirm", Button)
        confirm.disabled = False
        # Enter alone never destroys: a plan that stops allocations starts on Cancel
        self.query_one("#cancel" if destroys(message.resp) else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm" and self.planned is not None:
            group, count = self.planned
            self.dismiss(ScaleRequest(group, count, self.plan_index))
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
