"""The deployment monitor shown after `job run | scale | revert` and
`deployment promote | resume`: follows one deployment to its end with
blocking queries on GET /v1/deployment/:id. Never writes to the cluster.

On a terminal the block is redrawn in place under a spinner line (Nomad's
glint view); elsewhere (pipes, CI logs, tests) it is printed again only when
it changes, and the end line follows the last block:

      ✓ Deployment "3a364864" successful       (or `! ... failed`, `! ... cancelled`)

A deployment that waits for an operator to promote its canaries ends the
monitor (Nomad would wait for the progress deadline). A failed deployment with
auto-revert is followed by the rollback deployment, if one starts.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from typing import Any

from . import format as fmt
from .alloc_table import alloc_table
from .context import Context, reporting
from .deployment_format import (
    FAILED,
    SUCCESSFUL,
    TERMINAL,
    format_deployment,
    has_auto_revert,
    needs_promotion,
)

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# A terminal gets short blocking waits so the spinner keeps turning; a log
# only needs a line when something changed.
TTY_WAIT_S = 1.0
LOG_WAIT_S = 30.0
POLL_INTERVAL_S = 1.0
# Nomad gives the server a second to start the rollback deployment.
ROLLBACK_DELAY_S = 1.0

EXIT_OK = 0
EXIT_ERROR = 1

_CURSOR_UP = "\x1b[{}F"
_CLEAR_DOWN = "\x1b[J"


@dataclass(frozen=True)
class DeploymentOutcome:
    """How the watched deployment ended (the rollback does not change it)."""

    status: str
    awaiting_promotion: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == SUCCESSFUL or self.awaiting_promotion else EXIT_ERROR


class DeploymentMonitor:
    def __init__(self, ctx: Context, verbose: bool = False) -> None:
        self.ctx = ctx
        self.verbose = verbose
        self.tty = ctx.is_tty
        self._drawn_rows = 0
        self._last_body = ""
        self._tick = 0

    def _id(self, value: str) -> str:
        return fmt.short_id(value, self.verbose)

    def run(self, deployment_id: str) -> DeploymentOutcome:
        client = self.ctx.client
        index = 0
        wait = TTY_WAIT_S if self.tty else LOG_WAIT_S
        while True:
            with reporting(f"{self.ctx.stamp()}: Error fetching deployment"):
                resp = client.deployment(
                    deployment_id, index=index or None, wait=wait if index else None
                )
            deployment: dict[str, Any] = resp.data or {}
            status = deployment.get("Status", "")
            body = self._body(deployment_id, deployment)
            if status in TERMINAL or needs_promotion(deployment):
                return self._finish(deployment_id, deployment, body)
            self._progress(deployment_id, body)
            if resp.index <= index:
                # The server did not block (or sent no index): pace ourselves.
                self.ctx.runtime.sleep(POLL_INTERVAL_S)
            index = max(index, resp.index)

    # -- rendering -------------------------------------------------------------

    def _body(self, deployment_id: str, deployment: dict[str, Any]) -> str:
        text = format_deployment(deployment, self.verbose, self.ctx.color)
        if self.verbose:
            with reporting("Error fetching allocations"):
                allocs = self.ctx.client.deployment_allocations(deployment_id).data or []
            text += f"\n\n{fmt.bold('Allocations', self.ctx.color)}\n"
            text += alloc_table(self.ctx, allocs) if allocs else "No allocations placed"
        return text

    def _block(self, body: str) -> list[str]:
        lines = ["", self.ctx.stamp(), *body.splitlines()]
        return [f"    {line}" if line else "" for line in lines]

    def _progress(self, deployment_id: str, body: str) -> None:
        if self.tty:
            spin = SPINNER[self._tick % len(SPINNER)]
            self._tick += 1
            head = f'  {spin} Deployment "{self._id(deployment_id)}" in progress...'
            self._draw([head, *self._block(body)])
        elif body != self._last_body:
            self._print(self._block(body))
        self._last_body = body

    def _finish(
        self, deployment_id: str, deployment: dict[str, Any], body: str
    ) -> DeploymentOutcome:
        status = deployment.get("Status", "")
        promotion = status not in TERMINAL
        short = self._id(deployment_id)
        if status == SUCCESSFUL:
            end = f'  ✓ Deployment "{short}" successful'
        elif promotion:
            end = f'  ! Deployment "{short}" requires manual promotion'
        else:
            end = f'  ! Deployment "{short}" {status}'
        if self.tty:
            self._draw([end, *self._block(body), ""])
        else:
            if body != self._last_body:
                self._print(self._block(body))
            self._print(["", end])
        if promotion:
            self.ctx.out(
                f'    Canaries are healthy; run "nomadtui deployment promote {short}" '
                "to roll out the rest"
            )
        outcome = DeploymentOutcome(status, awaiting_promotion=promotion)
        if status == FAILED and has_auto_revert(deployment):
            self._follow_rollback(deployment)
        return outcome

    def _follow_rollback(self, failed: dict[str, Any]) -> None:
        self.ctx.runtime.sleep(ROLLBACK_DELAY_S)
        with reporting(f"{self.ctx.stamp()}: Error fetching deployment of previous job version"):
            latest = self.ctx.client.job_deployment(
                failed.get("JobID", ""), namespace=failed.get("Namespace") or None
            ).data
        self.ctx.out()
        if not latest or latest.get("ID") == failed.get("ID"):
            return  # nothing to roll back to, or the same spec
        self.ctx.out(
            f'==> {self.ctx.stamp()}: Monitoring rollback deployment "{self._id(latest["ID"])}"'
        )
        DeploymentMonitor(self.ctx, self.verbose).run(latest["ID"])

    def _print(self, lines: list[str]) -> None:
        for line in lines:
            self.ctx.out(line)

    def _draw(self, lines: list[str]) -> None:
        """Replace the previous frame with `lines` (terminal only)."""
        stream = self.ctx.runtime.stdout
        if self._drawn_rows:
            stream.write(_CURSOR_UP.format(self._drawn_rows) + _CLEAR_DOWN)
        stream.write("".join(f"{line}\n" for line in lines))
        stream.flush()
        width = max(shutil.get_terminal_size((80, 24)).columns, 1)
        # Long lines wrap: count screen rows, not strings, to move back up.
        self._drawn_rows = sum(max(1, math.ceil(len(line) / width)) for line in lines)
