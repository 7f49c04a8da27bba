"""`eval list` and `eval status`: evaluations, and for one, why it failed to place."""

from __future__ import annotations

from typing import Any

from nomadtui.client import resolve_eval

from . import format as fmt
from .context import Context, reporting
from .metrics import alloc_metric_lines, failed_to_place


def run_eval_status(ctx: Context) -> int:
    client = ctx.client
    with reporting("Error querying evaluation"):
        stub = resolve_eval(client, ctx.args.eval)
        ev: dict[str, Any] = client.evaluation(stub["ID"]).data or {}
    failed: dict[str, Any] = ev.get("FailedTGAllocs") or {}
    when = fmt.format_unix_nano if ctx.verbose else ctx.ago
    pairs: list[tuple[str, object]] = [
        ("ID", ctx.short(ev.get("ID", ""))),
        ("Create Time", when(ev.get("CreateTime"))),
        ("Modify Time", when(ev.get("ModifyTime"))),
        ("Status", ev.get("Status", "")),
        ("Status Description", ev.get("StatusDescription") or ev.get("Status", "")),
        ("Type", ev.get("Type", "")),
        ("TriggeredBy", ev.get("TriggeredBy", "")),
    ]
    if ev.get("NodeID"):
        pairs.append(("Node ID", ctx.short(ev["NodeID"])))
    else:
        pairs.append(("Job ID", ev.get("JobID", "")))
    if ev.get("DeploymentID"):
        pairs.append(("Deployment ID", ctx.short(ev["DeploymentID"])))
    pairs += [
        ("Namespace", ev.get("Namespace", "")),
        ("Priority", ev.get("Priority", "")),
        ("Placement Failures", str(bool(failed)).lower()),
    ]
    wait_until = fmt.from_rfc3339(ev.get("WaitUntil"))
    if wait_until:
        pairs.append(("Wait Until", fmt.format_datetime(wait_until)))
    for key, label in (
        ("PreviousEval", "Previous Eval"),
        ("NextEval", "Next Eval"),
        ("BlockedEval", "Blocked Eval"),
    ):
        if ev.get(key):
            pairs.append((label, ctx.short(ev[key])))
    ctx.out(fmt.kv(pairs))
    if failed:
        ctx.title("Failed Placements")
        groups = sorted(failed.items())
        for i, (name, metric) in enumerate(groups):
            ctx.out(f'Task Group "{name}" (failed to place {failed_to_place(metric)}):')
            for line in alloc_metric_lines(metric):
                ctx.out(line)
            if i != len(groups) - 1:
                ctx.out()
        if ev.get("BlockedEval"):
            ctx.out()
            ctx.out(
                f'Evaluation "{ctx.short(ev["BlockedEval"])}" waiting for additional '
                "capacity to place remainder"
            )
    return 0


def failure_label(ev: dict[str, Any]) -> str:
    """The `Placement Failures` cell: still unknown while the eval is blocked."""
    if ev.get("Status") == "blocked":
        return "N/A - In Progress"
    return str(bool(ev.get("FailedTGAllocs"))).lower()


def run_eval_list(ctx: Context) -> int:
    args = ctx.args
    with reporting("Error querying evaluations"):
        evals: list[dict[str, Any]] = (
            ctx.client.evaluations(job=args.job, status=args.status).data or []
        )
    if not evals:
        ctx.out("No evals found")
        return 0
    rows: list[list[object]] = [
        [
            "ID",
            "Priority",
            "Triggered By",
            "Job ID",
            "Namespace",
            "Node ID",
            "Status",
            "Placement Failures",
        ]
    ]
    for ev in evals:
        rows.append(
            [
                ctx.short(ev.get("ID", "")),
                ev.get("Priority", ""),
                ev.get("TriggeredBy", ""),
                ev.get("JobID", ""),
                ev.get("Namespace", ""),
                ctx.short(ev.get("NodeID") or ""),
                ev.get("Status", ""),
                failure_label(ev),
            ]
        )
    ctx.out(fmt.columnize(rows))
    return 0
