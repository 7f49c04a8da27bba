"""Deployment actions: promote / fail / pause / resume, each behind a confirmation.

Which actions make sense depends on the deployment's state (`allowed`); the
calls run off the UI thread through node_actions.run_call and report the
result or the server's error as a notification.
"""

from __future__ import annotations

from typing import Any

from nomadtui.client import NomadClient, Response

from ..widgets.confirm import ConfirmScreen
from .base import ConsoleScreen

ACTIONS = ("promote", "fail", "pause", "resume")


def unpromoted_canaries(dep: dict[str, Any]) -> bool:
    return any(
        int(g.get("DesiredCanaries") or 0) > 0 and not g.get("Promoted")
        for g in (dep.get("TaskGroups") or {}).values()
    )


def allowed(action: str, dep: dict[str, Any] | None) -> bool:
    """Whether `action` can apply to `dep` now (unknown deployment: no)."""
    if dep is None:
        return False
    status = dep.get("Status")
    if action == "promote":
        return status in ("running", "paused") and unpromoted_canaries(dep)
    if action == "fail":
        return status in ("running", "paused")
    if action == "pause":
        return status == "running"
    if action == "resume":
        return status == "paused"
    return False


def _call(client: NomadClient, action: str, dep_id: str) -> Response:
    if action == "promote":
        return client.deployment_promote(dep_id)
    if action == "fail":
        return client.deployment_fail(dep_id)
    return client.deployment_pause(dep_id, pause=action == "pause")


QUESTIONS = {
    "promote": (
        "Promote the canaries of deployment {label}?\n"
        "The remaining allocations are replaced with the new version.",
        "Promote",
        True,
    ),
    "fail": (
        "Mark deployment {label} as failed?\n"
        "With auto_revert the job rolls back to its last stable version.",
        "Fail",
        True,
    ),
    "pause": (
        "Pause deployment {label}?\nNo further allocations are replaced until resumed.",
        "Pause",
        True,
    ),
    "resume": ("Resume deployment {label}?", "Resume", False),
}
DONE = {"promote": "promoted", "fail": "marked as failed", "pause": "paused", "resume": "resumed"}


def _reverted(resp: Response) -> str:
    data = resp.data if isinstance(resp.data, dict) else {}
    version = data.get("RevertedJobVersion")
    return f"; job reverted to version {version}" if version is not None else ""


def act(screen: ConsoleScreen, client: NomadClient, action: str, dep: dict[str, Any]) -> None:
    """Confirm, then run `action` on `dep`."""
    dep_id = str(dep["ID"])
    label = f"{dep_id[:8]} (job {dep.get('JobID', '')} v{dep.get('JobVersion', 0)})"
    question, confirm, destructive = QUESTIONS[action]

    def answered(yes: bool | None) -> None:
        if yes:
            screen.call_api(
                f"{confirm} deployment {dep_id[:8]}",
                lambda: _call(client, action, dep_id),
                lambda resp: f"Deployment {dep_id[:8]} {DONE[action]}{_reverted(resp)}",
            )

    screen.app.push_screen(
        ConfirmScreen(question.format(label=label), confirm_label=confirm, destructive=destructive),
        answered,
    )
