"""The diff between any two stored versions of a job, for the Versions tab.

The API serves diffs only between adjacent versions (`/versions?diffs=true`;
`diff_version=` is not spoken by every server), so for any other pair the
console computes it with the same job diff the server uses (controlplane.jobdiff,
a pure library like jobspec) and the CLI's `render_diff` prints it. No I/O, no
widgets.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from controlplane.errors import NomadError
from controlplane.jobdiff import annotate, job_diff
from controlplane.jobspec import decode_job
from controlplane.structs import to_builtins
from nomadtui.cli.plan_render import render_diff

Json = dict[str, Any]


def diff_jobs(old: Json, new: Json) -> Json | None:
    """A JobDiff from `old` to `new` (two versions of one job); None if undecodable."""
    try:
        # annotated like a plan: a count change reads "(forces create)"
        diff = annotate(job_diff(decode_job(dict(old)), decode_job(dict(new))), {})
    except (NomadError, ValueError):
        return None
    result: Json = to_builtins(diff)
    return result


def has_changes(diff: Json | None) -> bool:
    return bool(diff) and (diff or {}).get("Type") not in (None, "None")


def colour_diff(text: str) -> Text:
    """Nomad CLI colours: `+` green, `-` red, `+/-` yellow."""
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, line in enumerate(text.splitlines()):
        stripped = line.lstrip()
        style = ""
        if stripped.startswith("+/-"):
            style = "yellow"
        elif stripped.startswith("+"):
            style = "green"
        elif stripped.startswith("-"):
            style = "red"
        if i:
            out.append("\n")
        out.append(line, style=style)
    return out


def render(diff: Json | None) -> Text:
    if not has_changes(diff):
        return Text("No changes between these versions.", style="dim")
    assert diff is not None
    return colour_diff(render_diff(diff, verbose=False))


def change_summary(diff: Json | None) -> str:
    """One cell for the versions table: which top-level things changed."""
    if not has_changes(diff):
        return ""
    assert diff is not None
    names = [f["Name"] for f in diff.get("Fields") or []]
    names += [o["Name"] for o in diff.get("Objects") or []]
    for g in diff.get("TaskGroups") or []:
        if g.get("Type") in ("Added", "Deleted"):
            names.append(f"{'+' if g['Type'] == 'Added' else '-'}group {g['Name']}")
            continue
        names += [f"{g['Name']}.{f['Name']}" for f in g.get("Fields") or []]
        names += [f"{g['Name']}.{o['Name']}" for o in g.get("Objects") or []]
        names += [
            f"{g['Name']}.{t['Name']}" for t in g.get("Tasks") or [] if t.get("Type") != "None"
        ]
    return ", ".join(dict.fromkeys(names))
