"""What the Job view's Overview tab shows: key facts, the task group summary,
the latest deployment with a progress bar per group, and placement failures.

Pure functions from API JSON (API.md §3.1, §3.3, §3.11, §3.12) to Rich
renderables; no I/O and no widgets. Wording follows `nomad job status`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nomadtui.cli.deployment_format import needs_promotion
from nomadtui.cli.format import (
    compact_duration,
    format_unix_nano,
    from_rfc3339,
    from_unix_nano,
    pretty_time_diff,
)
from nomadtui.cli.metrics import alloc_metric_lines, failed_to_place

from ..widgets.bars import progress_bar

Json = dict[str, Any]

SUMMARY_COLUMNS = ("Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown")
STATUS_STYLE = {
    "running": "green",
    "pending": "yellow",
    "dead": "dim",
    "successful": "green",
    "failed": "red",
    "paused": "yellow",
    "cancelled": "dim",
    "complete": "dim",
    "lost": "red",
    "blocked": "yellow",
    "canceled": "dim",
}


def styled(value: str) -> Text:
    return Text(value, style=STATUS_STYLE.get(value, ""))


def _grid(*widths: int) -> Table:
    grid = Table.grid(padding=(0, 2))
    for width in widths:
        grid.add_column(no_wrap=True, overflow="ellipsis", min_width=width)
    return grid


def _table(*headers: str) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for h in headers:
        table.add_column(h, no_wrap=True, overflow="ellipsis")
    return table


def title(text: str) -> Text:
    return Text(f"\n{text}", style="bold underline")


def is_periodic(job: Json) -> bool:
    periodic = job.get("Periodic")
    if isinstance(periodic, dict):
        return periodic.get("Enabled", True) is not False
    return bool(periodic)


def is_parameterized(job: Json) -> bool:
    return bool(job.get("ParameterizedJob")) and not job.get("Dispatched")


def status_text(job: Json) -> Text:
    status = str(job.get("Status", ""))
    text = styled(status)
    if job.get("Stop"):
        text.append(" (stopped)", style="dim")
    return text


def facts(job: Json, now: datetime) -> Table:
    """Key facts in two key/value columns (fits 80 columns)."""
    kind = str(job.get("Type", ""))
    if is_periodic(job):
        kind += "/periodic"
    if is_parameterized(job):
        kind += "/parameterized"
    submitted = from_unix_nano(job.get("SubmitTime"))
    when = f"{format_unix_nano(job.get('SubmitTime'))} ({pretty_time_diff(submitted, now)})"
    pairs: list[tuple[str, Text | str]] = [
        ("ID", str(job.get("ID", ""))),
        ("Name", str(job.get("Name", ""))),
        ("Type", kind),
        ("Priority", str(job.get("Priority", ""))),
        ("Status", status_text(job)),
        ("Namespace", str(job.get("Namespace", "") or "default")),
        ("Datacenters", ",".join(job.get("Datacenters") or [])),
        ("Node Pool", str(job.get("NodePool", "") or "default")),
        ("Version", str(job.get("Version", 0))),
        ("Stable", "true" if job.get("Stable") else "false"),
    ]
    grid = _grid(11, 20, 9, 10)
    for i in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[i], pairs[i + 1]
        grid.add_row(Text(k1, style="bold"), v1, Text(k2, style="bold"), v2)
    grid.add_row(Text("Submitted", style="bold"), when if submitted else "", "", "")
    return grid


def summary_table(summary: Json, job: Json) -> RenderableType:
    """`Summary` (per group) or, for periodic/parameterized parents, children counts."""
    if is_periodic(job) or is_parameterized(job):
        children = summary.get("Children") or {}
        table = _table("Pending", "Running", "Dead")
        table.add_row(*(str(children.get(k, 0)) for k in ("Pending", "Running", "Dead")))
        return table
    groups: dict[str, Json] = summary.get("Summary") or {}
    table = _table("Task Group", *SUMMARY_COLUMNS)
    for name, tg in sorted(groups.items()):
        cells = [str(tg.get(k, 0)) for k in SUMMARY_COLUMNS]
        row = [Text(name, style="bold"), *(Text(c) for c in cells)]
        for col, style in ((3, "green"), (4, "red"), (6, "red")):
            if cells[col - 1] != "0":
                row[col].stylize(style)
        table.add_row(*row)
    if not groups:
        return Text("No task groups", style="dim")
    return table


def deployment_block(deployment: Json | None, now: datetime) -> RenderableType:
    """Latest deployment: ID, status and description, then one bar per group
    (healthy of desired), canaries and promotion when any group has them, and
    the progress deadline."""
    if not deployment:
        return Text("No deployment", style="dim")
    head = Text()
    head.append(str(deployment.get("ID", ""))[:8], style="bold")
    head.append("  ")
    head.append_text(styled(str(deployment.get("Status", ""))))
    head.append(f"  v{deployment.get('JobVersion', 0)}  ")
    head.append(str(deployment.get("StatusDescription", "")), style="italic")
    if needs_promotion(deployment):
        head.append("  (press p to promote)", style="bold yellow")
    head.no_wrap = True
    head.overflow = "ellipsis"
    groups: dict[str, Json] = deployment.get("TaskGroups") or {}
    canaries = any(int(g.get("DesiredCanaries") or 0) > 0 for g in groups.values())
    headers = ["Group", "Healthy", "Placed", "Unhealthy"]
    headers += ["Canaries", "Promoted"] if canaries else []
    headers += ["Deadline"]
    table = _table(*headers)
    for name, g in sorted(groups.items()):
        desired = int(g.get("DesiredTotal") or 0)
        row: list[Text | str] = [
            Text(name, style="bold"),
            progress_bar(int(g.get("HealthyAllocs") or 0), desired, width=8),
            str(g.get("PlacedAllocs", 0)),
            Text(str(g.get("UnhealthyAllocs", 0)), style="red" if g.get("UnhealthyAllocs") else ""),
        ]
        if canaries:
            wanted = int(g.get("DesiredCanaries") or 0)
            placed = len(g.get("PlacedCanaries") or [])
            row += [
                f"{placed}/{wanted}" if wanted else "-",
                ("true" if g.get("Promoted") else "false") if wanted else "N/A",
            ]
        row.append(_deadline(g, now))
        table.add_row(*row)
    return Group(head, table) if groups else head


def _deadline(group: Json, now: datetime) -> str:
    """`in 9m50s` (or `2m ago` once passed): short enough for 80 columns."""
    by = from_rfc3339(group.get("RequireProgressBy"))
    if by is None:
        return "N/A"
    delta = round(by.timestamp()) - round(now.timestamp())
    return f"in {compact_duration(delta)}" if delta >= 0 else f"{compact_duration(-delta)} ago"


def latest_failing_eval(evals: list[Json]) -> Json | None:
    failing = [e for e in evals if e.get("FailedTGAllocs")]
    if not failing:
        return None
    return max(failing, key=lambda e: int(e.get("CreateIndex") or 0))


def placement_failures(ev: Json) -> Text:
    """The CLI's `Placement Failure` bullets for one evaluation."""
    out = Text()
    failed: dict[str, Json] = ev.get("FailedTGAllocs") or {}
    for i, (name, metric) in enumerate(sorted(failed.items())):
        if i:
            out.append("\n")
        out.append(
            f'Task Group "{name}" (failed to place {failed_to_place(metric or {})}):',
            style="bold red",
        )
        for line in alloc_metric_lines(metric or {}):
            out.append("\n" + line)
    return out


def overview(
    job: Json | None,
    summary: Json | None,
    deployment: Json | None,
    evals: list[Json],
    now: datetime,
) -> RenderableType:
    """The whole Overview tab, in `nomad job status` order."""
    if job is None:
        return Text("loading…", style="dim")
    parts: list[RenderableType] = [facts(job, now)]
    kids = is_periodic(job) or is_parameterized(job)
    parts += [
        title("Children Job Summary" if kids else "Summary"),
        summary_table(summary or {}, job),
    ]
    blocked = any(e.get("Status") == "blocked" for e in evals)
    failing = latest_failing_eval(evals)
    if blocked and failing is not None:
        parts += [title("Placement Failure"), placement_failures(failing)]
    if not kids:
        parts += [title("Latest Deployment"), deployment_block(deployment, now)]
    return Group(*parts)
