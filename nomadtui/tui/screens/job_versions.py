"""The Versions tab's data: one row per stored version and the diff between the
highlighted version and either the previous one or a version the user picked.

Pure functions over `GET /v1/job/:id/versions?diffs=true` (`Versions` newest
first; `Diffs[i]` goes from `Versions[i+1]` to `Versions[i]`). The server's
diff is used for adjacent versions; any other pair is diffed here
(job_diff). No I/O, no widgets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from nomadtui.cli.format import from_unix_nano, pretty_time_diff

from ..widgets.resource_table import Column, Row
from .job_diff import change_summary, diff_jobs, render

Json = dict[str, Any]

VERSION_COLUMNS = (
    Column("version", "Version", width=10),
    Column("stable", "Stable", width=6),
    Column("submitted", "Submitted", width=10),
    Column("changes", "Changes vs previous", priority=1),
)


def split(data: Json | None) -> tuple[list[Json], list[Json]]:
    data = data or {}
    versions: list[Json] = list(data.get("Versions") or [])
    diffs: list[Json] = list(data.get("Diffs") or [])
    if len(diffs) != len(versions) - 1:
        diffs = []  # a server that sent none (or a mismatch): diff locally
    return versions, diffs


def _by_version(versions: list[Json]) -> dict[int, int]:
    return {int(v.get("Version") or 0): i for i, v in enumerate(versions)}


def previous_diff(versions: list[Json], diffs: list[Json], i: int) -> Json | None:
    """What changed from the version before `versions[i]`; None for the oldest."""
    if i + 1 >= len(versions):
        return None
    if i < len(diffs):
        return diffs[i]
    return diff_jobs(versions[i + 1], versions[i])


def version_rows(data: Json | None, base: int | None, now: datetime) -> list[Row]:
    versions, diffs = split(data)
    rows: list[Row] = []
    for i, v in enumerate(versions):
        number = int(v.get("Version") or 0)
        label = Text(str(number))
        if number == base:
            label.append(" (base)", style="bold cyan")
        stable = Text("true", style="green") if v.get("Stable") else Text("false", style="dim")
        submitted = pretty_time_diff(from_unix_nano(v.get("SubmitTime")), now)
        changes = (
            change_summary(previous_diff(versions, diffs, i))
            if i + 1 < len(versions)
            else "(first stored version)"
        )
        rows.append((str(number), (label, stable, submitted, changes)))
    return rows


def diff_view(data: Json | None, target: int | None, base: int | None) -> Text:
    """A title line, then the coloured diff from `base` (or the previous
    version) to `target`."""
    versions, diffs = split(data)
    index = _by_version(versions)
    if target is None or target not in index:
        return Text("Highlight a version to see what it changed.", style="dim")
    i = index[target]
    out = Text(no_wrap=True, overflow="ellipsis")
    if base is None or base == target or base not in index:
        if i + 1 >= len(versions):
            out.append(
                f"Version {target} is the oldest stored version: nothing to compare.", style="dim"
            )
            return out
        older = int(versions[i + 1].get("Version") or 0)
        out.append(f"Diff v{older} → v{target} (previous)  ", style="bold")
        out.append("space: pick a base version", style="dim")
        diff = previous_diff(versions, diffs, i)
    else:
        j = index[base]
        out.append(f"Diff v{base} (base) → v{target}  ", style="bold")
        out.append("space: clear base", style="dim")
        diff = diffs[i] if j == i + 1 and i < len(diffs) else diff_jobs(versions[j], versions[i])
    out.append("\n")
    out.append_text(render(diff))
    return out


def version_of(data: Json | None, number: int) -> Json | None:
    versions, _ = split(data)
    index = _by_version(versions)
    return versions[index[number]] if number in index else None
