"""Node actions for the Nodes and Node views: drain / cancel drain, eligibility.

Every action asks first (ConfirmScreen, Cancel by default), runs its API call
in a thread worker and reports the result or the server's error as a
notification. `run_call` is the shared runner (deployment actions use it too);
nothing here touches the views' widgets.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from nomadtui.cli.format import go_duration
from nomadtui.client import NomadClient, Response

from ..widgets.confirm import ConfirmScreen
from .base import ConsoleScreen

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = "1h"
_UNIT_NS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_deadline(text: str) -> int:
    """A drain deadline in nanoseconds: Go durations (`1h`, `30m`, `1h30m`),
    `force` (-1: stop everything now) or `none` / `0` (no deadline)."""
    raw = text.strip().lower()
    if raw in ("force", "-1", "-1s"):
        return -1
    if raw in ("none", "0", "0s", "no"):
        return 0
    pos, total = 0, 0.0
    for m in _PART.finditer(raw):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if not raw or pos != len(raw):
        raise ValueError(f"invalid deadline {text!r} (e.g. 1h, 30m, force, none)")
    return int(total)


def node_label(node: dict[str, Any]) -> str:
    return f"{node.get('Name') or ''} ({str(node.get('ID', ''))[:8]})".strip()


def _evals(resp: Response) -> str:
    data = resp.data if isinstance(resp.data, dict) else {}
    ids = data.get("EvalIDs") or []
    return f", {len(ids)} evaluation(s) created" if ids else ""


# -- eligibility -------------------------------------------------------------


def set_eligibility(client: NomadClient, node_id: str, eligible: bool) -> Response:
    body = {"NodeID": node_id, "Eligibility": "eligible" if eligible else "ineligible"}
    return client.put(f"/v1/node/{node_id}/eligibility", body)


def toggle_eligibility(screen: ConsoleScreen, client: NomadClient, node: dict[str, Any]) -> None:
    """Ask, then flip the node's scheduling eligibility."""
    eligible = node.get("SchedulingEligibility") != "eligible"
    label = node_label(node)
    verb = "eligible" if eligible else "ineligible"
    question = f"Mark node {label} {verb} for scheduling?" + (
        "" if eligible else "\nRunning allocations stay; no new ones are placed."
    )

    def answered(yes: bool | None) -> None:
        if yes:
            screen.call_api(
                f"Mark {label} {verb}",
                lambda: set_eligibility(client, str(node["ID"]), eligible),
                lambda resp: f"Node {label} is now {verb}{_evals(resp)}",
            )

    screen.app.push_screen(
        ConfirmScreen(question, confirm_label=f"Mark {verb}", destructive=not eligible),
        answered,
    )


# -- drain -------------------------------------------------------------------


def drain_body(deadline_ns: int | None, ignore_system_jobs: bool = False) -> dict[str, Any]:
    """The `/drain` body; `deadline_ns=None` cancels a drain (and re-enables)."""
    if deadline_ns is None:
        return {"DrainSpec": None, "MarkEligible": True}
    return {
        "DrainSpec": {"Deadline": deadline_ns, "IgnoreSystemJobs": ignore_system_jobs},
        "MarkEligible": False,
    }


def update_drain(client: NomadClient, node_id: str, deadline_ns: int | None) -> Response:
    return client.put(f"/v1/node/{node_id}/drain", drain_body(deadline_ns))


def describe_deadline(ns: int) -> str:
    if ns < 0:
        return "force (stop all allocations now)"
    if ns == 0:
        return "no deadline"
    return go_duration(ns)


class DeadlineScreen(ModalScreen[str | None]):
    """Asks for a drain deadline (Enter accepts, Esc cancels)."""

    DEFAULT_CSS = """
    DeadlineScreen { align: center middle; }
    DeadlineScreen > Vertical {
        width: 64; height: auto; max-width: 95%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    DeadlineScreen #deadline-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="drain.cancel")]

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Drain node {self.label}\nDeadline (e.g. 1h, 30m, force, none):")
            yield Input(DEFAULT_DEADLINE, id="deadline")
            yield Static("", id="deadline-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            parse_deadline(event.value)
        except ValueError as exc:
            self.query_one("#deadline-error", Static).update(str(exc))
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def drain(screen: ConsoleScreen, client: NomadClient, node: dict[str, Any]) -> None:
    """Start a drain (deadline prompt, then confirm), or cancel a running one."""
    label = node_label(node)
    node_id = str(node["ID"])
    if node.get("Drain"):

        def cancel(yes: bool | None) -> None:
            if yes:
                screen.call_api(
                    f"Cancel drain of {label}",
                    lambda: update_drain(client, node_id, None),
                    lambda resp: f"Drain of {label} cancelled; node is eligible",
                )

        screen.app.push_screen(
            ConfirmScreen(
                f"Cancel the drain of node {label}?\nThe node becomes eligible again.",
                confirm_label="Cancel drain",
                destructive=False,
            ),
            cancel,
        )
        return

    def got_deadline(text: str | None) -> None:
        if text is None:
            return
        deadline = parse_deadline(text)

        def confirmed(yes: bool | None) -> None:
            if yes:
                screen.call_api(
                    f"Drain {label}",
                    lambda: update_drain(client, node_id, deadline),
                    lambda resp: f"Draining {label}{_evals(resp)}",
                )

        screen.app.push_screen(
            ConfirmScreen(
                f"Drain node {label} with deadline {describe_deadline(deadline)}?\n"
                "Its allocations are migrated to other nodes.",
                confirm_label="Drain",
            ),
            confirmed,
        )

    screen.app.push_screen(DeadlineScreen(label), got_deadline)
