"""JobActions: what the Job view can change — stop (and purge), scale, revert,
and promote / fail / pause / resume the latest deployment.

Every action is listed in MUTATING (hidden with --read-only) and NEEDS
(disabled, with the reason, when the token lacks it), asks first
when it is destructive (Cancel is the default), runs its API call in a thread
worker (ConsoleScreen.call_api) and reports success or the server's error as
a notification. Actions never touch the data on screen; the view's
watches show the outcome, and on an error the last good data simply stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Static

from nomadtui.cli.deployment_format import PAUSED, RUNNING
from nomadtui.client import NomadClient

from ..permissions import SCALE_JOB, SUBMIT_JOB
from ..widgets.confirm import ConfirmScreen
from .base import ConsoleScreen
from .job_scale import ScaleRequest, ScaleScreen

Json = dict[str, Any]
SCALE_MESSAGE = "submitted using the nomadtui console"
DEPLOYMENT_ACTIONS = frozenset({"promote", "fail_deployment", "pause", "resume"})


class StopJobScreen(ConfirmScreen):
    """Stop a job; the Purge box deletes it and its history as well."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            yield Checkbox("Purge (delete the job and its history now)", id="purge")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.confirm_label, id="confirm", variant="error")

    @property
    def purge(self) -> bool:
        return self.query_one("#purge", Checkbox).value


def needs_canary_promotion(deployment: Json | None) -> bool:
    if not deployment or deployment.get("Status") != RUNNING:
        return False
    return any(
        int(g.get("DesiredCanaries") or 0) > 0 and not g.get("Promoted")
        for g in (deployment.get("TaskGroups") or {}).values()
    )


class JobActions(ConsoleScreen):
    MUTATING: ClassVar[frozenset[str]] = frozenset({"stop", "scale", "revert", *DEPLOYMENT_ACTIONS})
    NEEDS: ClassVar[dict[str, str]] = {
        "stop": SUBMIT_JOB, "revert": SUBMIT_JOB, "scale": SCALE_JOB,
        **dict.fromkeys(DEPLOYMENT_ACTIONS, SUBMIT_JOB),
    }
    ACTION_BINDINGS: ClassVar[list[Binding]] = [
        Binding("ctrl+d", "stop", "Stop", id="job.stop"),
        Binding("s", "scale", "Scale", id="job.scale"),
        Binding("r", "revert", "Revert", id="job.revert"),
        Binding("p", "promote", "Promote", id="job.promote"),
        Binding("F", "fail_deployment", "Fail", id="job.fail"),
        Binding("P", "pause", "Pause", id="job.pause"),
        Binding("U", "resume", "Resume", id="job.resume"),
    ]

    def __init__(self, job_id: str, namespace: str | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.namespace = namespace
        self.job: Json | None = None
        self.deployment: Json | None = None

    # -- hooks the view provides -------------------------------------------
    def selected_version(self) -> Json | None:
        """The version picked on the Versions tab (None: not on that tab)."""
        return None

    def selected_group(self) -> str | None:
        return None

    def after_purge(self) -> None:
        """The job is gone: leave the view."""

    # -- availability --------------------------------------------------------
    def acl_namespace(self) -> str:
        job_ns = str((self.job or {}).get("Namespace") or "")
        return self.namespace or job_ns or self.console.namespace

    def action_applicable(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        dep = self.deployment or {}
        status = dep.get("Status")
        if action == "promote":
            return needs_canary_promotion(self.deployment)
        if action == "fail_deployment":
            return status in (RUNNING, PAUSED)
        if action == "pause":
            return status == RUNNING
        if action == "resume":
            return status == PAUSED
        if action == "scale":
            return self.job is not None and self.job.get("Type") in ("service", "batch")
        if action in ("stop", "revert"):
            return self.job is not None
        return True

    # -- plumbing -------------------------------------------------------------
    def run_call(self, action: str, call: Callable[[NomadClient], str]) -> None:
        """Run `call` off the UI thread; its return value is the success text."""
        client = self.client
        self.call_api(
            action,
            lambda: call(client),
            success=lambda text: text,
            then=self.after_purge if action == "purge" else None,
        )

    @staticmethod
    def _eval(resp_data: Any) -> str:
        eval_id = str((resp_data or {}).get("EvalID") or "")
        return f" (evaluation {eval_id[:8]})" if eval_id else ""

    # -- job actions ------------------------------------------------------------
    def action_stop(self) -> None:
        job_id, ns = self.job_id, self.namespace
        dialog = StopJobScreen(
            f"Stop job [b]{escape(job_id)}[/b]? Its allocations will be stopped.", "Stop job"
        )

        def decided(ok: bool | None) -> None:
            if not ok:
                return
            purge = dialog.purge

            def call(client: NomadClient) -> str:
                resp = client.deregister_job(job_id, purge=purge, namespace=ns)
                verb = "purged" if purge else "stopped"
                return f"Job {job_id} {verb}{self._eval(resp.data)}"

            self.run_call("purge" if purge else "stop", call)

        self.app.push_screen(dialog, decided)

    def action_scale(self) -> None:
        if self.job is None:
            return
        job_id, ns = self.job_id, self.namespace

        def decided(req: ScaleRequest | None) -> None:
            if req is None:
                return

            def call(client: NomadClient) -> str:
                resp = client.scale_job(
                    job_id,
                    req.group,
                    req.count,
                    SCALE_MESSAGE,
                    enforce_index=req.job_modify_index or None,
                    namespace=ns,
                )
                return f"Scaled {job_id}.{req.group} to {req.count}{self._eval(resp.data)}"

            self.run_call("scale", call)

        self.app.push_screen(
            ScaleScreen(self.client, self.job, self.selected_group(), self.deployment), decided
        )

    def action_revert(self) -> None:
        picked = self.selected_version()
        current = (self.job or {}).get("Version")
        if picked is None:
            self.notify(
                "Pick the version to revert to on the Versions tab, then press r.", timeout=4
            )
            self.show_versions()
            return
        version = int(picked.get("Version") or 0)
        if version == current:
            self.notify(f"Version {version} is the current version.", severity="warning")
            return
        job_id, ns = self.job_id, self.namespace

        def decided(ok: bool | None) -> None:
            if not ok:
                return

            def call(client: NomadClient) -> str:
                resp = client.revert_job(
                    job_id, version, enforce_prior_version=current, namespace=ns
                )
                return f"Reverted {job_id} to version {version}{self._eval(resp.data)}"

            self.run_call("revert", call)

        self.app.push_screen(
            ConfirmScreen(
                f"Revert job [b]{escape(job_id)}[/b] from version {current} to version {version}? "
                "This registers the old spec as a new version.",
                "Revert",
            ),
            decided,
        )

    def show_versions(self) -> None:
        """Switch to the Versions tab (the view knows where it is)."""

    # -- deployment actions ---------------------------------------------------------
    def _deployment_id(self) -> str | None:
        dep_id = str((self.deployment or {}).get("ID") or "")
        if not dep_id:
            self.notify("This job has no deployment.", severity="warning")
            return None
        return dep_id

    def action_promote(self) -> None:
        dep_id = self._deployment_id()
        if dep_id is None:
            return

        def decided(ok: bool | None) -> None:
            if ok:
                self.run_call(
                    "promote",
                    lambda c: _ok(
                        c.deployment_promote(dep_id), f"Deployment {dep_id[:8]} promoted"
                    ),
                )

        self.app.push_screen(
            ConfirmScreen(
                f"Promote the canaries of deployment [b]{dep_id[:8]}[/b]? The remaining "
                "allocations will be replaced.",
                "Promote",
                destructive=False,
            ),
            decided,
        )

    def action_fail_deployment(self) -> None:
        dep_id = self._deployment_id()
        if dep_id is None:
            return

        def call(client: NomadClient) -> str:
            data = client.deployment_fail(dep_id).data or {}
            text = f"Deployment {dep_id[:8]} marked as failed"
            reverted = data.get("RevertedJobVersion")
            return text + (f"; rolling back to version {reverted}" if reverted is not None else "")

        def decided(ok: bool | None) -> None:
            if ok:
                self.run_call("fail", call)

        self.app.push_screen(
            ConfirmScreen(
                f"Mark deployment [b]{dep_id[:8]}[/b] as failed? With auto_revert the job "
                "rolls back to its last stable version.",
                "Fail deployment",
            ),
            decided,
        )

    def action_pause(self) -> None:
        dep_id = self._deployment_id()
        if dep_id is not None:
            self.run_call(
                "pause",
                lambda c: _ok(c.deployment_pause(dep_id, True), f"Deployment {dep_id[:8]} paused"),
            )

    def action_resume(self) -> None:
        dep_id = self._deployment_id()
        if dep_id is not None:
            self.run_call(
                "resume",
                lambda c: _ok(
                    c.deployment_pause(dep_id, False), f"Deployment {dep_id[:8]} resumed"
                ),
            )


def _ok(_resp: object, text: str) -> str:
    return text
