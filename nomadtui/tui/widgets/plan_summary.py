"""What a plan will do, in a glance: the headline, the side panel and the run question.

Pure functions from a PlanResult to Rich renderables or markup; the plan
screen places them. Destructive work (stops, replacements, migrations) is
always red, so nobody restarts production by accident.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nomadtui.cli.metrics import failed_to_place

from ..screens.plan_spec import DESTRUCTIVE, UPDATE_WORDS, PlanResult, describe_updates

# columns of the per-group table: DesiredUpdates key -> short header
_COLUMNS = (
    ("Place", "create"),
    ("InPlaceUpdate", "in-place"),
    ("DestructiveUpdate", "replace"),
    ("Stop", "destroy"),
    ("Migrate", "migrate"),
    ("Canary", "canary"),
    ("Ignore", "ignore"),
)


def _dry_run(plan: PlanResult) -> Text:
    failed = plan.failed_groups
    if not failed:
        return Text("✓ all tasks allocated", style="bold green")
    return Text(f"✗ placement failures in {', '.join(sorted(failed))}", style="bold red")


def headline(plan: PlanResult) -> Text:
    """One or two lines over the preview: job, what changes, dry-run, index."""
    spec = plan.spec
    kind = "new job" if plan.is_new_job else "update"
    text = Text.assemble(
        (f"{spec.job_id}", "bold"),
        f"  {spec.job_type} · {kind} · ",
        (f"check-index {plan.job_modify_index}", "bold"),
        "  ",
    )
    text.append_text(_dry_run(plan))
    if plan.unchanged:
        text.append("  · no changes", style="bold")
    for name, counts in plan.groups.items():
        style = "bold red" if any(counts.get(k) for k in DESTRUCTIVE) else ""
        text.append(f"\n{name}: ", style="bold")
        text.append(describe_updates(counts), style=style)
    return text


def group_table(plan: PlanResult) -> Table:
    used = [(k, h) for k, h in _COLUMNS if any(c.get(k) for c in plan.groups.values())]
    table = Table(box=None, pad_edge=False, show_edge=False, expand=False)
    table.add_column("Group", style="bold", no_wrap=True, overflow="ellipsis", max_width=16)
    for key, header in used:
        style = "red" if key in DESTRUCTIVE else ""
        table.add_column(header, justify="right", style=style, header_style=f"bold {style}")
    for name, counts in plan.groups.items():
        table.add_row(name, *(str(counts.get(k, 0) or "") for k, _ in used))
    return table


def summary_panel(plan: PlanResult) -> RenderableType:
    """The side panel on wide terminals."""
    spec = plan.spec
    facts = Text()
    facts.append("Job         ", style="dim")
    facts.append(f"{spec.job_id}\n", style="bold")
    facts.append("Type        ", style="dim")
    facts.append(f"{spec.job_type}\n")
    facts.append("Source      ", style="dim")
    facts.append(f"{'server (edited)' if spec.from_server else spec.path}\n")
    facts.append("Change      ", style="dim")
    facts.append("new job\n" if plan.is_new_job else "update\n")
    facts.append("Check-index ", style="dim")
    facts.append(f"{plan.job_modify_index}\n", style="bold")
    parts: list[RenderableType] = [facts, Text("Allocations", style="bold underline")]
    parts.append(group_table(plan) if plan.groups else Text("no task groups", style="dim"))
    parts.append(Text())
    parts.append(Text("Scheduler dry-run", style="bold underline"))
    parts.append(_dry_run(plan))
    for name, metric in sorted(plan.failed_groups.items()):
        parts.append(Text(f"  {name}: {failed_to_place(metric or {})} unplaced", style="red"))
    destructive = plan.destructive
    if destructive:
        parts.append(Text())
        total = sum(destructive.values())
        parts.append(Text(f"⚠ {total} allocation(s) stopped or replaced", style="bold red"))
    parts.append(Text())
    parts.append(Text("r run · e edit · p re-plan · v verbose", style="dim"))
    return Group(*parts)


def run_question(plan: PlanResult) -> tuple[str, bool]:
    """The confirmation text (Rich markup) and whether the run is destructive."""
    spec = plan.spec
    job = escape(spec.job_id)
    verb = "Run new job" if plan.is_new_job else "Update job"
    lines = [f'[b]{verb} "{job}"?[/b]']
    for name, counts in plan.groups.items():
        words = []
        for key, n in sorted(counts.items(), key=lambda kv: UPDATE_WORDS[kv[0]]):
            word = f"{n} {UPDATE_WORDS[key]}"
            words.append(f"[b red]{word}[/]" if key in DESTRUCTIVE else word)
        lines.append(f'  group "{escape(name)}": {", ".join(words) or "no change"}')
    destructive = plan.destructive
    if destructive:
        total = sum(destructive.values())
        lines.append(f"[b red]⚠ {total} running allocation(s) will be stopped or replaced[/]")
    if plan.failed_groups:
        groups = ", ".join(escape(g) for g in sorted(plan.failed_groups))
        lines.append(
            f"[yellow]Some allocations cannot be placed ({groups}); they will wait for capacity.[/]"
        )
    lines.append(
        f"Submitted with check-index {plan.job_modify_index}: refused if the job "
        "changed since this plan."
    )
    return "\n".join(lines), bool(destructive)
