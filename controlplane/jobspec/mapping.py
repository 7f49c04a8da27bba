"""HCL body dict -> Nomad API-shaped job dict (API.md §6.6), driven by `schema`.

Accepts both the python-hcl2 body shape (blocks as lists of `{label: body}`)
and HCL's JSON syntax (`{"job": [{"x": [{...}]}]}`). Applies renames,
durations, port splitting and constraint shorthands; it does not fill
defaults or validate (see `defaults`, `validate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from controlplane.errors import JobSpecError
from controlplane.structs import nomad_name

from .durations import parse_duration
from .hcl import LineIndex, block_bodies
from .schema import JOB, BlockSpec

Path = tuple[str, ...]

# Constraint/affinity shorthand attributes: `regexp = "x"` sets Operand and RTarget.
_SHORTHAND_OPERATORS = (
    "regexp",
    "version",
    "semver",
    "set_contains",
    "set_contains_any",
    "set_contains_all",
)


@dataclass
class Context:
    filename: str
    lines: LineIndex = field(default_factory=dict)  # relative to the job block
    top: LineIndex = field(default_factory=dict)  # the whole file

    def line(self, path: Path) -> int | None:
        """Line of the most specific recorded ancestor of `path`."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, message: str, path: Path) -> JobSpecError:
        return JobSpecError(message, self.filename, self.line(path))


def iter_labelled(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, body) pairs of a labelled block in either body shape."""
    for item in block_bodies(value):
        for label, inner in item.items():
            for body in block_bodies(inner):
                yield str(label), body
            if isinstance(inner, list) and not inner:
                yield str(label), {}


def as_map(value: Any) -> dict[str, Any]:
    """A map given as a block (`meta { }`) or as an attribute (`meta = { }`)."""
    if isinstance(value, dict):
        return dict(value)
    merged: dict[str, Any] = {}
    for body in block_bodies(value):
        merged.update(body)
    return merged


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _unescape(value: Any) -> Any:
    """HCL template escapes: `$${` -> `${`, `%%{` -> `%{` (after variable substitution)."""
    if isinstance(value, str):
        return value.replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    return value


def _generic(body: dict[str, Any]) -> dict[str, Any]:
    """Blocks the schema does not know: Go names for keys, nested blocks as objects."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            converted = [_generic(v) for v in value]
            out[nomad_name(key)] = converted[0] if len(converted) == 1 else converted
        else:
            out[nomad_name(key)] = _unescape(value)
    return out


def _constraint_shorthands(out: dict[str, Any], body: dict[str, Any]) -> None:
    if "distinct_hosts" in body:
        enabled = body["distinct_hosts"] in (True, "true")
        out.pop("DistinctHosts", None)
        if enabled:
            out["Operand"] = "distinct_hosts"
            out["RTarget"] = "true"
    if "distinct_property" in body:
        out["Operand"] = "distinct_property"
        out["LTarget"] = out.pop("DistinctProperty")
    for op in _SHORTHAND_OPERATORS:
        if op in body:
            out["Operand"] = op
            out["RTarget"] = _stringify(out.pop(nomad_name(op)))
    for key in ("LTarget", "RTarget"):
        if key in out:
            out[key] = _stringify(out[key])


def _split_ports(out: dict[str, Any]) -> None:
    ports = out.pop("Ports", None)
    if ports is None:
        return
    for port in ports:
        static = port.get("Value")
        port.setdefault("To", 0)
        if static is not None and static != 0:
            out.setdefault("ReservedPorts", []).append(port)
        else:
            port["Value"] = 0
            out.setdefault("DynamicPorts", []).append(port)


def _duration(value: Any, attr: str, path: Path, ctx: Context) -> int:
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as err:
        raise ctx.error(f"{_describe(path)}: {attr}: {err}", (*path, attr)) from None


def _describe(path: Path) -> str:
    """`group "cache" task "redis"` style description of a block path."""
    parts = []
    for seg in path:
        if ":" in seg:
            kind, label = seg.split(":", 1)
            parts.append(f'{kind} "{label}"')
        else:
            parts.append(seg.split("[", 1)[0])
    return " ".join(parts) if parts else "job"


def convert_block(
    body: dict[str, Any], spec: BlockSpec, path: Path, ctx: Context
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "dynamic":
            labels = [label for label, _ in iter_labelled(value)] or [""]
            raise ctx.error(
                f"{_describe(path)}: dynamic blocks are not supported",
                (*path, f"dynamic:{labels[0]}"),
            )
        if key in spec.maps or key in spec.string_maps:
            api_key = spec.rename.get(key) or nomad_name(key)
            mapped = _unescape(as_map(value))
            if key in spec.string_maps:
                mapped = {k: _stringify(v) for k, v in mapped.items()}
            out[api_key] = mapped
        elif key in spec.blocks:
            _convert_children(out, key, value, spec.blocks[key], path, ctx)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            converted = [_generic(v) for v in value]
            out[nomad_name(key)] = converted[0] if len(converted) == 1 else converted
        else:
            api_key = spec.rename.get(key) or nomad_name(key)
            if key in spec.durations and value is not None:
                value = _duration(value, key, path, ctx)
            out[api_key] = _unescape(value)
    if spec is JOB.blocks["constraint"] or spec is JOB.blocks["affinity"]:
        _constraint_shorthands(out, body)
    if spec.key == "Networks":
        _split_ports(out)
    if spec.key in ("Services", "Checks") and "PortLabel" in out:
        out["PortLabel"] = _stringify(out["PortLabel"])  # `port = 8080` names a port number
    if spec.key == "Periodic" and ("Spec" in out or "Specs" in out):
        out.setdefault("SpecType", "cron")
    if spec.key == "LogConfig" and "Enabled" in out:
        out["Disabled"] = not out.pop("Enabled")
    return out


def _convert_children(
    out: dict[str, Any], key: str, value: Any, spec: BlockSpec, path: Path, ctx: Context
) -> None:
    if spec.label is not None and (spec.keyed or spec.many) and _is_labelled(value):
        for label, body in iter_labelled(value):
            child_path = (*path, f"{key}:{label}")
            converted = {spec.label: label, **convert_block(body, spec, child_path, ctx)}
            if spec.keyed:
                out.setdefault(spec.key, {})[label] = converted
            else:
                out.setdefault(spec.key, []).append(converted)
        return
    for i, body in enumerate(block_bodies(value)):
        child_path = (*path, f"{key}[{i}]")
        converted = convert_block(body, spec, child_path, ctx)
        if spec.many:
            out.setdefault(spec.key, []).append(converted)
        else:
            out[spec.key] = converted


def _is_labelled(value: Any) -> bool:
    """Labelled blocks hold `{label: body}` items; an unlabelled `scaling {}` does not."""
    items = block_bodies(value)
    return bool(items) and all(
        len(item) == 1 and isinstance(next(iter(item.values())), (dict, list)) for item in items
    )


def _wrap_bare_tasks(body: dict[str, Any]) -> dict[str, Any]:
    """A `task` directly under `job` becomes a group of the same name."""
    if "task" not in body:
        return body
    body = dict(body)
    groups = block_bodies(body.get("group"))
    for label, task in iter_labelled(body.pop("task")):
        groups.append({label: {"task": [{label: task}]}})
    body["group"] = groups
    return body


def job_from_body(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The API job dict for a file body holding exactly one `job` block."""
    jobs = list(iter_labelled(body.get("job")))
    if not jobs:
        raise JobSpecError("no job block found", ctx.filename, None)
    if len(jobs) > 1:
        second = jobs[1][0]
        raise JobSpecError(
            f'only one job block is allowed per file (found another: "{second}")',
            ctx.filename,
            ctx.top.get((f"job:{second}",)),
        )
    others = sorted(set(body) - {"job"})
    if others:
        raise JobSpecError(
            f"unexpected top-level block or attribute: {others[0]}",
            ctx.filename,
            ctx.top.get((others[0],)) or ctx.top.get((f"{others[0]}[0]",)),
        )
    label, job_body = jobs[0]
    converted = convert_block(_wrap_bare_tasks(job_body), JOB, (), ctx)
    return {"ID": label, "Name": converted.pop("Name", label), **converted}
