"""The plan preview as Rich text: `job plan` output coloured as Nomad's CLI does.

Diff lines are green (`+`), red (`-`) or yellow (`+/-`); annotations such
as `(forces create/destroy update)` and group update counts stand out; the
scheduler dry-run is green when everything places and red with the failure
metrics otherwise. Long lines wrap with a hanging indent so the tree stays
readable at 80 columns. Text comes from `nomadtui.cli.plan_render`; this
module only styles it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from nomadtui.cli.plan_render import render_plan

from ..screens.plan_spec import PlanResult

ADDED, DELETED, EDITED = "green", "red", "yellow"
_MARKER = re.compile(r"^(\s*)(\+/- |\+ |- )?")
_ANNOTATION = re.compile(r"\((forces [^)]*)\)$")
_GROUP_UPDATES = re.compile(r"\(([^()]*)\)$")
_HEADERS = re.compile(r"^\s*(?:\+/- |\+ |- )?\s*(Job|Task Group|Task): ")
_CLI_HINT = "\nTo submit the job with version verification run:"

ANNOTATION_STYLES = {
    "forces create": "bold green",
    "forces destroy": "bold red",
    "forces create/destroy update": "bold red",
    "forces in-place update": "bold cyan",
}
_SEVERE_UPDATES = ("destroy", "create/destroy update", "migrate")


def _marker_style(marker: str) -> str:
    return {"+/- ": EDITED, "+ ": ADDED, "- ": DELETED}.get(marker, "")


def _style_diff_line(line: str, inherited: str) -> Text:
    match = _MARKER.match(line)
    marker = match.group(2) if match and match.group(2) else ""
    base = _marker_style(marker) or inherited
    text = Text(line, style=base or "dim")
    if marker:
        start = match.end(1) if match else 0
        text.stylize(f"bold {base}", start, start + len(marker))
    if _HEADERS.match(line):
        text.stylize("bold")
    ann = _ANNOTATION.search(line)
    if ann is not None:
        text.stylize(ANNOTATION_STYLES.get(ann.group(1), "bold"), ann.start(), ann.end())
    elif "Task Group: " in line:
        counts = _GROUP_UPDATES.search(line)
        if counts is not None:
            _style_counts(text, counts.start(1), counts.group(1))
    return text


def _style_counts(text: Text, offset: int, counts: str) -> None:
    """`1 create, 2 create/destroy update`: bold, the destructive kinds red."""
    pos = offset
    for part in counts.split(", "):
        kind = part.split(" ", 1)[1] if " " in part else part
        style = "bold red" if kind in _SEVERE_UPDATES else "bold"
        text.stylize(style, pos, pos + len(part))
        pos += len(part) + 2


def style_diff(lines: Iterable[str]) -> list[Text]:
    """Colour diff lines; unmarked lines inside an object take its colour when
    it was added or deleted (its fields are all new or all gone)."""
    out: list[Text] = []
    stack: list[str] = []
    for line in lines:
        stripped = line.strip()
        inherited = stack[-1] if stack else ""
        if stripped == "}":
            style = stack.pop() if stack else ""
            out.append(Text(line, style=style or "dim"))
            continue
        text = _style_diff_line(line, inherited if inherited != EDITED else "")
        if stripped.endswith("{"):
            match = _MARKER.match(line)
            marker = match.group(2) if match and match.group(2) else ""
            stack.append(_marker_style(marker) or inherited)
        out.append(text)
    return out


def _style_tail(lines: Iterable[str]) -> list[Text]:
    """The dry-run, warnings, preemptions and index lines after the diff."""
    out: list[Text] = []
    section = ""
    for line in lines:
        if line in ("Scheduler dry-run:", "Job Warnings:", "Preemptions:"):
            section = line
            out.append(Text(line, style="bold"))
        elif line.startswith("Job Modify Index:"):
            out.append(Text(line, style="bold"))
        elif section == "Scheduler dry-run:":
            out.append(_style_dry_run(line))
        elif section == "Job Warnings:":
            out.append(Text(line, style=EDITED))
        else:
            out.append(Text(line))
    return out


def _style_dry_run(line: str) -> Text:
    if line.startswith("- All tasks successfully allocated"):
        return Text(line, style="bold green")
    if line.startswith("- WARNING"):
        return Text(line, style="bold red")
    if line.startswith("  Task Group "):
        return Text(line, style="red")
    if line.startswith("- "):
        return Text(line, style="cyan")
    return Text(line)


def plan_lines(plan: PlanResult, verbose: bool = False) -> list[Text]:
    """The whole preview: diff, dry-run, warnings, preemptions, index."""
    text, _ = render_plan(plan.resp, plan.spec.path, verbose, job_type=plan.spec.job_type)
    text = text.split(_CLI_HINT, 1)[0].rstrip("\n")
    lines = text.split("\n")
    cut = lines.index("Scheduler dry-run:") if "Scheduler dry-run:" in lines else 0
    out = style_diff(lines[:cut]) + _style_tail(lines[cut:])
    if plan.unchanged:
        out.insert(0, Text("No changes: the server already runs this spec.\n", style="bold"))
    return out


def hanging_indent(plain: str) -> int:
    """Where a wrapped line's continuation starts: after indentation and marker."""
    match = _MARKER.match(plain)
    return match.end() if match else 0


class HangingText:
    """Lines that wrap under their own content (not at column 0), so deep diff
    trees stay legible in narrow terminals."""

    def __init__(self, lines: list[Text]) -> None:
        self.lines = lines

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((line.cell_len for line in self.lines), default=1)
        return Measurement(min(widest, 20), widest)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 10)
        for line in self.lines:
            indent = hanging_indent(line.plain)
            if line.cell_len <= width or not 0 < indent <= width // 2:
                for part in line.wrap(console, width, overflow="fold"):
                    part.no_wrap = True
                    yield part
                continue
            head, body = line.divide([indent])
            for i, part in enumerate(body.wrap(console, width - indent, overflow="fold")):
                prefix = head.copy() if i == 0 else Text(" " * indent)
                row = prefix + part
                row.no_wrap = True
                yield row


def error_text(title: str, message: str, source: str = "", line: int | None = None) -> Text:
    """A failure as the user must see it: what, where (file:line), and the
    offending lines of the file with the bad one marked."""
    text = Text.assemble((title, "bold"), "\n", (message, "bold red"))
    if source and line:
        lines = source.splitlines()
        first, last = max(line - 2, 1), min(line + 2, len(lines))
        width = len(str(last))
        for number in range(first, last + 1):
            mark = "→" if number == line else " "
            style = "bold red" if number == line else "dim"
            text.append(f"\n{mark} {number:>{width}} │ {lines[number - 1]}", style=style)
    return text
