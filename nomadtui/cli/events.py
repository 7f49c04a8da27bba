"""Human descriptions of task events for `alloc status` (Recent Events).

Servers since Nomad 0.7 send `DisplayMessage`; older or sparse events are
described from their typed fields.
"""

from __future__ import annotations

from typing import Any

from . import format as fmt


def describe_event(ev: dict[str, Any]) -> str:
    if ev.get("DisplayMessage"):
        return str(ev["DisplayMessage"])
    kind = ev.get("Type", "")
    details: dict[str, str] = ev.get("Details") or {}
    if kind == "Received":
        return "Task received by client"
    if kind == "Started":
        return "Task started by client"
    if kind == "Task Setup":
        return str(ev.get("Message") or "")
    if kind == "Driver":
        return str(ev.get("DriverMessage") or "")
    if kind == "Terminated":
        parts = [f"Exit Code: {ev.get('ExitCode', details.get('exit_code', 0))}"]
        if ev.get("Signal"):
            parts.append(f"Signal: {ev['Signal']}")
        if ev.get("Message"):
            parts.append(f"Exit Message: {ev['Message']!r}".replace("'", '"'))
        return ", ".join(parts)
    if kind == "Restarting":
        delay = int(ev.get("StartDelay") or 0)
        reason = ev.get("RestartReason") or ""
        text = f"Task restarting in {fmt.go_duration(delay)}"
        return f"{reason} - {text}" if reason else text
    if kind == "Killing":
        return (
            f"Sent interrupt. Waiting {fmt.go_duration(int(ev.get('KillTimeout') or 0))} "
            "before force killing"
        )
    if kind == "Killed":
        return "Task successfully killed" if not ev.get("KillError") else str(ev["KillError"])
    if kind in ("Driver Failure", "Setup Failure"):
        return str(ev.get("DriverError") or ev.get("SetupError") or ev.get("Message") or "")
    if kind == "Not Restarting":
        return str(ev.get("RestartReason") or "")
    if kind == "Sibling Task Failed":
        return f'Task\'s sibling "{ev.get("FailedSibling", "")}" failed'
    return str(ev.get("Message") or "")
