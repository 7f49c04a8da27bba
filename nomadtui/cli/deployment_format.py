"""Text blocks for deployments, shared by `deployment status|list`, `job
deployments`, `status JOB` and the deployment monitor.

Pure functions over Deployment dicts (API.md §3.12); no I/O.
"""

from __future__ import annotations

from typing import Any

from . import format as fmt

RUNNING = "running"
PAUSED = "paused"
SUCCESSFUL = "successful"
FAILED = "failed"
CANCELLED = "cancelled"
BLOCKED = "blocked"
# Nomad's monitor stops on these; "blocked" only exists for multiregion jobs.
TERMINAL = frozenset({SUCCESSFUL, FAILED, CANCELLED, BLOCKED})


def groups_table(deployment: dict[str, Any]) -> str:
    """The `Deployed` table. Optional columns appear when any group needs them:
    `Auto Revert`, `Promoted` / `Canaries` (canaries wanted), `Progress Deadline`."""
    groups: dict[str, dict[str, Any]] = deployment.get("TaskGroups") or {}
    auto_revert = any(g.get("AutoRevert") for g in groups.values())
    canaries = any(int(g.get("DesiredCanaries") or 0) > 0 for g in groups.values())
    deadline = any(int(g.get("ProgressDeadline") or 0) != 0 for g in groups.values())
    header: list[object] = ["Task Group"]
    header += ["Auto Revert"] if auto_revert else []
    header += ["Promoted"] if canaries else []
    header += ["Desired"]
    header += ["Canaries"] if canaries else []
    header += ["Placed", "Healthy", "Unhealthy"]
    header += ["Progress Deadline"] if deadline else []
    rows: list[list[object]] = [header]
    for name, g in sorted(groups.items()):
        wants_canaries = int(g.get("DesiredCanaries") or 0) > 0
        row: list[object] = [name]
        row += [_bool(g.get("AutoRevert"))] if auto_revert else []
        if canaries:
            row.append(_bool(g.get("Promoted")) if wants_canaries else "N/A")
        row.append(g.get("DesiredTotal", 0))
        row += [g.get("DesiredCanaries", 0)] if canaries else []
        row += [g.get("PlacedAllocs", 0), g.get("HealthyAllocs", 0), g.get("UnhealthyAllocs", 0)]
        if deadline:
            by = fmt.from_rfc3339(g.get("RequireProgressBy"))
            row.append(fmt.format_datetime(by) if by else "N/A")
        rows.append(row)
    return fmt.columnize(rows)


def format_deployment(deployment: dict[str, Any], verbose: bool, color: bool) -> str:
    """`deployment status` / the monitor block: k/v header, then `Deployed`."""
    base = fmt.kv(
        [
            ("ID", fmt.short_id(deployment.get("ID", ""), verbose)),
            ("Job ID", deployment.get("JobID", "")),
            ("Job Version", deployment.get("JobVersion", 0)),
            ("Status", deployment.get("Status", "")),
            ("Description", deployment.get("StatusDescription", "")),
        ]
    )
    if not deployment.get("TaskGroups"):
        return base
    return f"{base}\n\n{fmt.bold('Deployed', color)}\n{groups_table(deployment)}"


def format_deployments(deployments: list[dict[str, Any]], verbose: bool) -> str:
    """The `deployment list` / `job deployments` table."""
    if not deployments:
        return "No deployments found"
    rows: list[list[object]] = [["ID", "Job ID", "Job Version", "Status", "Description"]]
    for d in deployments:
        rows.append(
            [
                fmt.short_id(d.get("ID", ""), verbose),
                d.get("JobID", ""),
                d.get("JobVersion", 0),
                d.get("Status", ""),
                d.get("StatusDescription", ""),
            ]
        )
    return fmt.columnize(rows)


def needs_promotion(deployment: dict[str, Any]) -> bool:
    """Running, with healthy canaries that only an operator will promote: every
    unpromoted canary group has all its canaries healthy and no auto-promote.

    The server's `requires manual promotion` description is not enough: Nomad
    sets it when the deployment starts, before any canary is healthy."""
    if deployment.get("Status") != RUNNING:
        return False
    waiting = [
        g
        for g in (deployment.get("TaskGroups") or {}).values()
        if int(g.get("DesiredCanaries") or 0) > 0 and not g.get("Promoted")
    ]
    return bool(waiting) and all(
        not g.get("AutoPromote")
        and int(g.get("HealthyAllocs") or 0) >= int(g.get("DesiredCanaries") or 0)
        for g in waiting
    )


def has_auto_revert(deployment: dict[str, Any]) -> bool:
    return any(g.get("AutoRevert") for g in (deployment.get("TaskGroups") or {}).values())


def _bool(value: Any) -> str:
    return "true" if value else "false"
