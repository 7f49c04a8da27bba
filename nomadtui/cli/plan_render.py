"""Text of `job plan`: the annotated job diff, the scheduler dry-run summary
and the check-index hint, laid out as Nomad prints them.

Pure functions over the JSON of a plan response (ours or a real Nomad's);
no I/O, no colour, no API client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .format import columnize, format_datetime, from_rfc3339, go_duration
from .metrics import alloc_metric_lines, failed_to_place

Json = dict[str, Any]

_MARKERS = {"Added": "+ ", "Deleted": "- ", "Edited": "+/- "}

# Past this many preempted allocations the table is summarised per job.
_PREEMPTION_DISPLAY_THRESHOLD = 10

_CHECK_INDEX_HELP = """\
To submit the job with version verification run:

nomadtui job run -check-index {index} {file}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""

_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """A string quoted as Go's `%q` does."""
    out = []
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


# -- diff ------------------------------------------------------------------------


def _marker(diff_type: str | None) -> str:
    return _MARKERS.get(diff_type or "", "")


def _items(node: Json, key: str) -> list[Json]:
    return list(node.get(key) or [])


def _longest(fields: list[Json], objects: list[Json]) -> tuple[int, int]:
    """The longest field name and the longest marker, for alignment."""
    longest_field = max((len(f.get("Name", "")) for f in fields), default=0)
    longest_marker = max((len(_marker(d.get("Type"))) for d in (*fields, *objects)), default=0)
    return longest_field, longest_marker


def _annotations(node: Json) -> str:
    notes = node.get("Annotations") or []
    return f" ({', '.join(notes)})" if notes else ""


def _field_line(field: Json, start: int, key_pad: int, value_pad: int) -> str:
    kind = field.get("Type")
    old, new = go_quote(field.get("Old", "")), go_quote(field.get("New", ""))
    if kind == "Deleted":
        value = old
    elif kind == "Edited":
        value = f"{old} => {new}"
    else:
        value = new
    name = field.get("Name", "")
    return (
        f"{' ' * start}{_marker(kind)}{' ' * key_pad}{name}: {' ' * value_pad}{value}"
        f"{_annotations(field)}"
    )


def _object_lines(obj: Json, start: int, key_pad: int) -> str:
    marker = _marker(obj.get("Type"))
    head = f"{' ' * start}{marker}{' ' * key_pad}{obj.get('Name', '')} {{\n"
    fields, objects = _items(obj, "Fields"), _items(obj, "Objects")
    longest_field, longest_marker = _longest(fields, objects)
    body = _aligned(fields, objects, start + key_pad + 2, longest_field, longest_marker)
    return f"{head}{body}\n{' ' * (start + len(marker) + key_pad)}}}"


def _aligned(
    fields: list[Json], objects: list[Json], start: int, longest_field: int, longest_marker: int
) -> str:
    """Fields then objects, markers right-aligned and values in one column;
    no trailing newline."""
    parts = [
        _field_line(
            f,
            start,
            longest_marker - len(_marker(f.get("Type"))),
            longest_field - len(f.get("Name", "")),
        )
        for f in fields
    ]
    parts += [
        _object_lines(o, start, longest_marker - len(_marker(o.get("Type")))) for o in objects
    ]
    return "\n".join(parts)


def _task_lines(task: Json, start: int, task_pad: int, verbose: bool) -> str:
    kind = task.get("Type")
    out = f"{' ' * start}{_marker(kind)}{' ' * task_pad}Task: {go_quote(task.get('Name', ''))}"
    out += _annotations(task)
    if kind not in ("Edited", "Added", "Deleted"):
        return out
    if kind != "Edited" and not verbose:
        return out
    fields, objects = _items(task, "Fields"), _items(task, "Objects")
    longest_field, longest_marker = _longest(fields, objects)
    return out + "\n" + _aligned(fields, objects, start + 2, longest_field, longest_marker)


def _updates(group: Json) -> str:
    updates = {k: v for k, v in (group.get("Updates") or {}).items() if v}
    if not updates:
        return ""
    return " (" + ", ".join(f"{updates[k]} {k}" for k in sorted(updates)) + ")"


def _group_lines(group: Json, group_pad: int, verbose: bool) -> str:
    kind = group.get("Type")
    out = f"{_marker(kind)}{' ' * group_pad}Task Group: {go_quote(group.get('Name', ''))}"
    out += _updates(group) + "\n"
    fields, objects, tasks = (
        _items(group, "Fields"),
        _items(group, "Objects"),
        _items(group, "Tasks"),
    )
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(t.get("Type"))) for t in tasks)])
    start = group_pad + 2
    if kind == "Edited" or verbose:
        block = _aligned(fields, objects, start, longest_field, longest_marker)
        if block:
            out += block + "\n"
    for task in tasks:
        pad = longest_marker - len(_marker(task.get("Type")))
        out += _task_lines(task, start, pad, verbose) + "\n"
    return out


def render_diff(diff: Json, verbose: bool) -> str:
    """The `+/- Job: "example"` block of `job plan` (no trailing newline).

    Job and group fields show only when they are Edited (or verbose); added
    and deleted tasks show only their header unless verbose."""
    kind = diff.get("Type")
    out = f"{_marker(kind)}Job: {go_quote(diff.get('ID', ''))}\n"
    fields, objects, groups = (
        _items(diff, "Fields"),
        _items(diff, "Objects"),
        _items(diff, "TaskGroups"),
    )
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(g.get("Type"))) for g in groups)])
    if kind == "Edited" or verbose:
        block = _aligned(fields, objects, 0, longest_field, longest_marker)
        if block:
            out += block + "\n"
    for group in groups:
        pad = longest_marker - len(_marker(group.get("Type")))
        out += _group_lines(group, pad, verbose) + "\n"
    return out.strip()


# -- scheduler dry-run -------------------------------------------------------------


def _rolling_eval(resp: Json) -> Json | None:
    rolling = None
    for ev in resp.get("CreatedEvals") or []:
        if ev.get("TriggeredBy") == "rolling-update":
            rolling = ev
    return rolling


def render_dry_run(resp: Json, job_type: str = "service", now: datetime | None = None) -> str:
    """The bullets under `Scheduler dry-run:` (no trailing newline)."""
    rolling = _rolling_eval(resp)
    failed: Json = resp.get("FailedTGAllocs") or {}
    if not failed:
        out = "- All tasks successfully allocated.\n"
    else:
        if job_type == "system":
            out = "- WARNING: Failed to place allocations on all nodes.\n"
        else:
            out = "- WARNING: Failed to place all allocations.\n"
        for group in sorted(failed):
            metric = failed[group] or {}
            out += f"  Task Group {go_quote(group)} (failed to place {failed_to_place(metric)}):\n"
            out += "\n".join(alloc_metric_lines(metric, prefix="    ")) + "\n\n"
        if rolling is None:
            out = out.removesuffix("\n")
    if rolling is not None:
        wait = go_duration(int(rolling.get("Wait") or 0))
        out += f"- Rolling update, next evaluation will be in {wait}.\n"
    launch = from_rfc3339(resp.get("NextPeriodicLaunch"))
    if launch is not None:
        moment = now or datetime.now(tz=launch.tzinfo)
        until = int(launch.timestamp()) - int(moment.timestamp())
        out += (
            f"- If submitted now, next periodic launch would be at {format_datetime(launch)} "
            f"({go_duration(until * 10**9)} from now).\n"
        )
    return out.removesuffix("\n")


def _preemptions(allocs: list[Json]) -> str:
    if len(allocs) < _PREEMPTION_DISPLAY_THRESHOLD:
        rows: list[list[object]] = [["Alloc ID", "Job ID", "Task Group"]]
        rows += [[a.get("ID", ""), a.get("JobID", ""), a.get("TaskGroup", "")] for a in allocs]
        return columnize(rows)
    # Too many to list: count them per job, or per job type past the threshold.
    per_job: dict[tuple[str, str, str], int] = {}
    for a in allocs:
        key = (a.get("JobID", ""), a.get("Namespace", ""), a.get("JobType", ""))
        per_job[key] = per_job.get(key, 0) + 1
    if len(per_job) < _PREEMPTION_DISPLAY_THRESHOLD:
        rows = [["Job ID", "Namespace", "Job Type", "Preemptions"]]
        rows += [[*key, count] for key, count in sorted(per_job.items())]
        return columnize(rows)
    per_type: dict[str, int] = {}
    for (_, _, job_type), count in per_job.items():
        per_type[job_type] = per_type.get(job_type, 0) + count
    return columnize([["Job Type", "Preemptions"], *sorted(per_type.items())])


# -- whole output -------------------------------------------------------------------


def plan_exit_code(resp: Json) -> int:
    """0 when nothing is created or destroyed (in-place updates and ignores
    only, or no change at all), 1 otherwise."""
    diff = resp.get("Diff")
    if diff is not None and diff.get("Type") == "None":
        return 0
    desired: Json = (resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    for counts in desired.values():
        counts = counts or {}
        changes = sum(
            int(counts.get(k) or 0)
            for k in ("Place", "Stop", "Migrate", "DestructiveUpdate", "Canary")
        )
        if changes > 0:
            return 1
    return 0


def render_plan(
    resp: Json,
    job_file: str,
    verbose: bool = False,
    diff: bool = True,
    *,
    job_type: str = "service",
    now: datetime | None = None,
) -> tuple[str, int]:
    """The whole `job plan` output (no trailing newline) and its exit code."""
    parts: list[str] = []
    if diff and resp.get("Diff") is not None:
        parts.append(render_diff(resp["Diff"], verbose) + "\n")
    parts.append("Scheduler dry-run:")
    parts.append(render_dry_run(resp, job_type, now))
    parts.append("")
    warnings = resp.get("Warnings") or ""
    if warnings:
        parts.append(f"Job Warnings:\n{warnings}\n")
    preempted = (resp.get("Annotations") or {}).get("PreemptedAllocs") or []
    if preempted:
        parts.append("Preemptions:\n")
        parts.append(_preemptions(preempted))
    index = int(resp.get("JobModifyIndex") or 0)
    parts.append(f"Job Modify Index: {index}")
    parts.append(_CHECK_INDEX_HELP.format(index=index, file=job_file))
    return "\n".join(parts), plan_exit_code(resp)
