"""The diff between any two stored versions of a job, for the Versions tab.

The API serves diffs only between adjacent versions (`/versions?diffs=true`;
`diff_version=` is not spoken by every server), so for any other pair this
module builds a JobDiff-shaped tree (API.md §3.13) from the two job JSONs and
the CLI's `render_diff` prints it. Pure: no I/O, no widgets. It is a
structural diff of the JSON, not the server's annotated one: good enough to
show what changed, never used to decide anything.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from nomadtui.cli.plan_render import render_diff

Json = dict[str, Any]

# not part of the spec: the same list the server's job diff ignores (§3.13)
_JOB_SKIP = frozenset(
    {
        "ID",
        "Status",
        "StatusDescription",
        "Version",
        "Stable",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "Update",
        "SubmitTime",
        "NomadTokenID",
        "TaskGroups",
        "JobSummary",
        "VersionTag",
    }
)
_GROUP_SKIP = frozenset({"Name", "Tasks"})
_TASK_SKIP = frozenset({"Name"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _kind(old: Any, new: Any) -> str:
    if old is None and new is not None:
        return "Added"
    if new is None and old is not None:
        return "Deleted"
    return "Edited" if old != new else "None"


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


# maps shown as `Meta[key]` fields, as Nomad flattens them
_FLAT_MAPS = frozenset({"Meta", "Env"})
# free-form maps shown as one object of flattened fields (`args[0]`, `port_map[0][db]`)
_FLAT_OBJECTS = frozenset({"Config"})
# list fields whose elements Nomad names in the singular
_SINGULAR = {
    "Constraints": "Constraint",
    "Affinities": "Affinity",
    "Spreads": "Spread",
    "Services": "Service",
    "Checks": "Check",
    "Networks": "Network",
    "Templates": "Template",
    "Artifacts": "Artifact",
    "ReservedPorts": "Static Port",
    "DynamicPorts": "Dynamic Port",
    "VolumeMounts": "VolumeMount",
    "Devices": "Device",
}


def flatten(value: Any, prefix: str) -> dict[str, str]:
    """Nomad's flatmap: nested maps and lists become `a[k][0]`-style keys."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}[{k}]" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: _text(value)}


def _flat_fields(old: dict[str, str], new: dict[str, str]) -> list[Json]:
    fields: list[Json] = []
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name), new.get(name)
        if o != n:
            fields.append(
                {
                    "Type": _kind(o, n),
                    "Name": name,
                    "Old": o or "",
                    "New": n or "",
                    "Annotations": None,
                }
            )
    return fields


def _fields_objects(
    old: Json | None, new: Json | None, skip: frozenset[str] = frozenset()
) -> tuple[list[Json], list[Json]]:
    old, new = old or {}, new or {}
    fields: list[Json] = []
    objects: list[Json] = []
    for key in sorted(set(old) | set(new)):
        if key in skip:
            continue
        o, n = old.get(key), new.get(key)
        if o == n or (_empty(o) and _empty(n)):
            continue
        if key in _FLAT_MAPS:
            fields += _flat_fields(flatten(o or {}, key), flatten(n or {}, key))
        elif key in _FLAT_OBJECTS:
            flat = _flat_fields(flatten(o or {}, ""), flatten(n or {}, ""))
            objects.append(
                {
                    "Type": _kind(None if _empty(o) else o, None if _empty(n) else n),
                    "Name": key,
                    "Fields": flat,
                    "Objects": [],
                }
            )
        elif isinstance(o, dict) or isinstance(n, dict):
            objects.append(
                _object(key, o if isinstance(o, dict) else None, n if isinstance(n, dict) else None)
            )
        elif isinstance(o, list) or isinstance(n, list):
            objects += _list(
                key, o if isinstance(o, list) else [], n if isinstance(n, list) else []
            )
        else:
            fields.append(
                {
                    "Type": _kind(o, n),
                    "Name": key,
                    "Old": _text(o),
                    "New": _text(n),
                    "Annotations": None,
                }
            )
    return fields, objects


def _object(name: str, old: Json | None, new: Json | None) -> Json:
    fields, objects = _fields_objects(old, new)
    kind = _kind(None if _empty(old) else old, None if _empty(new) else new)
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": objects}


def _list(name: str, old: list[Any], new: list[Any]) -> list[Json]:
    """Scalars as one object of Added/Deleted values (like `Datacenters`);
    objects pairwise by position, named in the singular (`Constraint`)."""
    if all(not isinstance(v, dict | list) for v in (*old, *new)):
        fields = [
            {"Type": "Deleted", "Name": name, "Old": _text(v), "New": "", "Annotations": None}
            for v in old
            if v not in new
        ]
        fields += [
            {"Type": "Added", "Name": name, "Old": "", "New": _text(v), "Annotations": None}
            for v in new
            if v not in old
        ]
        return [{"Type": "Edited", "Name": name, "Fields": fields, "Objects": []}] if fields else []
    single = _SINGULAR.get(name, name)
    out: list[Json] = []
    for i in range(max(len(old), len(new))):
        o = old[i] if i < len(old) else None
        n = new[i] if i < len(new) else None
        if o != n:
            out.append(
                _object(
                    single, o if isinstance(o, dict) else None, n if isinstance(n, dict) else None
                )
            )
    return out


def _by_name(items: list[Json] | None) -> dict[str, Json]:
    return {str(i.get("Name", "")): i for i in items or []}


def _task(name: str, old: Json | None, new: Json | None) -> Json:
    fields, objects = _fields_objects(old, new, _TASK_SKIP)
    kind = _kind(old, new)
    if kind == "Edited" and not fields and not objects:
        kind = "None"
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": objects, "Annotations": None}


def _group(name: str, old: Json | None, new: Json | None) -> Json:
    fields, objects = _fields_objects(old, new, _GROUP_SKIP)
    for f in fields:
        if f["Name"] == "Count" and f["Type"] == "Edited":
            grow = int(f["New"] or 0) > int(f["Old"] or 0)
            f["Annotations"] = ["forces create" if grow else "forces destroy"]
    olds, news = _by_name((old or {}).get("Tasks")), _by_name((new or {}).get("Tasks"))
    names = sorted(set(olds) | set(news))
    tasks = [_task(n, olds.get(n), news.get(n)) for n in names]
    kind = _kind(old, new)
    if kind == "Edited" and not fields and not objects and all(t["Type"] == "None" for t in tasks):
        kind = "None"
    return {
        "Type": kind,
        "Name": name,
        "Fields": fields,
        "Objects": objects,
        "Tasks": tasks,
        "Updates": None,
    }


def diff_jobs(old: Json, new: Json) -> Json:
    """A JobDiff from `old` to `new` (two versions of one job)."""
    fields, objects = _fields_objects(old, new, _JOB_SKIP)
    olds, news = _by_name(old.get("TaskGroups")), _by_name(new.get("TaskGroups"))
    names = sorted(set(olds) | set(news))
    groups = [_group(n, olds.get(n), news.get(n)) for n in names]
    changed = fields or objects or any(g["Type"] != "None" for g in groups)
    return {
        "Type": "Edited" if changed else "None",
        "ID": new.get("ID", old.get("ID", "")),
        "Fields": fields,
        "Objects": objects,
        "TaskGroups": groups,
    }


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
