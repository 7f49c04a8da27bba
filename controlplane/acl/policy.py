"""Nomad's ACL policy rule language: HCL (or its JSON form) -> `Policy`.

    namespace "<glob>" {
      policy       = "read" | "write" | "scale" | "deny"
      capabilities = ["submit-job", ...]
      variables { path "<glob>" { capabilities = ["read", ...] } }
    }
    host_volume "<glob>" { policy = ..., capabilities = [...] }
    node / agent / quota { policy = "read" | "write" | "deny" }
    operator { policy = ..., capabilities = ["snapshot-save", ...] }
    plugin { policy = "read" | "list" | "write" | "deny" }

Parsing validates every name, level and capability and expands the
shorthand `policy` into capabilities (Nomad's acl/policy.go); errors are
ValidationErrors worded as Nomad's. What a set of policies allows is
compile.py's business. Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from controlplane.errors import ValidationError
from controlplane.jobspec.hcl import parse_tree, tree_to_body

from . import capabilities as caps

LEVELS = ("deny", "read", "write", "scale")
PLUGIN_LEVELS = ("deny", "read", "list", "write")
_VALID_GLOB = re.compile(r"^[a-zA-Z0-9\-*]{1,128}$")
_LABELLED = ("namespace", "host_volume")
_COARSE = ("node", "agent", "operator", "quota", "plugin")
_TOP_KEYS = frozenset(_LABELLED + _COARSE)


@dataclass(frozen=True)
class VariablePathPolicy:
    path: str
    capabilities: frozenset[str]


@dataclass(frozen=True)
class NamespacePolicy:
    """One `namespace` block, `policy` already expanded into `capabilities`."""

    name: str
    policy: str
    capabilities: frozenset[str]
    variables: tuple[VariablePathPolicy, ...] = ()


@dataclass(frozen=True)
class HostVolumePolicy:
    name: str
    policy: str
    capabilities: frozenset[str]


@dataclass(frozen=True)
class Policy:
    """A parsed policy; coarse levels are "" when their block is absent."""

    namespaces: tuple[NamespacePolicy, ...] = ()
    host_volumes: tuple[HostVolumePolicy, ...] = ()
    node: str = ""
    agent: str = ""
    operator: str = ""
    operator_capabilities: frozenset[str] = frozenset()
    quota: str = ""
    plugin: str = ""


def parse(rules: str, strict: bool = True) -> Policy:
    """Parse and validate policy rules (HCL, or JSON when they start with `{`).

    `strict` refuses unknown keys, as Nomad does when a policy is written;
    stored policies are compiled leniently so that nothing stored can fail.
    """
    if rules == "":
        return Policy()  # as Nomad: an empty policy grants nothing
    body = _decode(rules)
    unknown = sorted(k for k in body if k not in _TOP_KEYS)
    if unknown and strict:
        raise ValidationError(f"Invalid or duplicate policy keys: {', '.join(unknown)}")
    namespaces = tuple(
        _namespace(name, blk, strict) for name, blk in _labelled(body.get("namespace"), "namespace")
    )
    volumes = tuple(
        _host_volume(name, blk, strict)
        for name, blk in _labelled(body.get("host_volume"), "host_volume")
    )
    coarse = {key: _single(body.get(key), key) for key in _COARSE}
    if not namespaces and not volumes and all(v is None for v in coarse.values()):
        raise ValidationError(f"Invalid policy: {rules}")

    def level(key: str, allowed: tuple[str, ...], required: bool = True) -> str:
        blk = coarse[key]
        if blk is None:
            return ""
        _check_keys(
            blk, {"policy", "capabilities"} if key == "operator" else {"policy"}, key, strict
        )
        value = _string(blk.get("policy", ""), f"{key}.policy")
        if (value or required) and value not in allowed:
            raise ValidationError(
                f"Invalid {key} policy: {value!r} (want one of {', '.join(allowed)})"
            )
        return value

    op_caps: frozenset[str] = frozenset()
    operator = level("operator", LEVELS, required=False)
    if coarse["operator"] is not None:
        listed = _strings(coarse["operator"].get("capabilities"), "operator.capabilities")
        for cap in listed:
            if cap not in caps.OPERATOR_CAPABILITIES:
                raise ValidationError(f"Invalid operator capability '{cap}'")
        op_caps = frozenset(listed) | _operator_expansion(operator)
        if not operator and not listed:
            raise ValidationError("Invalid operator policy: needs a policy or capabilities")
    return Policy(
        namespaces=namespaces,
        host_volumes=volumes,
        node=level("node", LEVELS),
        agent=level("agent", LEVELS),
        operator=operator,
        operator_capabilities=op_caps,
        quota=level("quota", LEVELS),
        plugin=level("plugin", PLUGIN_LEVELS),
    )


# -- blocks ------------------------------------------------------------------


def _namespace(name: str, blk: dict[str, Any], strict: bool) -> NamespacePolicy:
    if not _VALID_GLOB.match(name):
        raise ValidationError(f"Invalid namespace name: {name!r}")
    _check_keys(blk, {"policy", "capabilities", "variables"}, f'namespace "{name}"', strict)
    policy = _string(blk.get("policy", ""), f'namespace "{name}" policy')
    if policy and policy not in caps.NAMESPACE_POLICIES:
        raise ValidationError(
            f'Invalid namespace policy: {policy!r} in namespace "{name}" '
            f"(want one of {', '.join(LEVELS)})"
        )
    listed = _strings(blk.get("capabilities"), f'namespace "{name}" capabilities')
    for cap in listed:
        if cap not in caps.ALL:
            raise ValidationError(f"Invalid namespace capability '{cap}': namespace \"{name}\"")
    granted = set(listed) | set(caps.NAMESPACE_POLICIES.get(policy, ()))
    for cap in list(granted):
        granted |= caps.IMPLIED.get(cap, frozenset())
    return NamespacePolicy(
        name=name,
        policy=policy,
        capabilities=frozenset(granted),
        variables=_variables(name, blk.get("variables"), strict),
    )


def _variables(ns: str, raw: Any, strict: bool) -> tuple[VariablePathPolicy, ...]:
    if raw is None:
        return ()
    blk = _single(raw, "variables")
    assert blk is not None
    _check_keys(blk, {"path"}, f'namespace "{ns}" variables', strict)
    paths = list(_labelled(blk.get("path"), "path"))
    if not paths:
        raise ValidationError(f"Invalid variable policy: no variable paths in namespace {ns}")
    out = []
    for path, pblk in paths:
        if not path:
            raise ValidationError(f"Invalid missing variable path in namespace {ns}")
        if path.startswith("/"):
            raise ValidationError(
                f"Invalid variable path {path!r} in namespace {ns}: cannot start with a leading '/'"
            )
        _check_keys(pblk, {"capabilities"}, f'variables path "{path}"', strict)
        listed = _strings(pblk.get("capabilities"), f'path "{path}" capabilities')
        for cap in listed:
            if cap not in caps.VARIABLE_CAPABILITIES:
                raise ValidationError(f"Invalid variable capability '{cap}' in namespace {ns}")
        granted = set(listed)
        if "deny" in granted:
            granted = {"deny"}
        elif "read" in granted:
            granted.add("list")  # Nomad: read implies list
        out.append(VariablePathPolicy(path=path, capabilities=frozenset(granted)))
    return tuple(out)


def _host_volume(name: str, blk: dict[str, Any], strict: bool) -> HostVolumePolicy:
    if not _VALID_GLOB.match(name):
        raise ValidationError(f"Invalid host volume name: {name!r}")
    _check_keys(blk, {"policy", "capabilities"}, f'host_volume "{name}"', strict)
    policy = _string(blk.get("policy", ""), f'host_volume "{name}" policy')
    if policy and policy not in LEVELS:
        raise ValidationError(f'Invalid host volume policy: {policy!r} in host_volume "{name}"')
    listed = _strings(blk.get("capabilities"), f'host_volume "{name}" capabilities')
    for cap in listed:
        if cap not in caps.HOST_VOLUME_CAPABILITIES:
            raise ValidationError(f"Invalid host volume capability '{cap}': host_volume \"{name}\"")
    expanded = {
        "deny": {"deny"},
        "read": {"mount-readonly"},
        "write": {"mount-readonly", "mount-readwrite"},
    }.get(policy, set())
    return HostVolumePolicy(
        name=name, policy=policy, capabilities=frozenset(set(listed) | expanded)
    )


def _operator_expansion(level: str) -> frozenset[str]:
    return frozenset(
        {
            "deny": {"deny"},
            "read": {"license-read"},
            "write": {"snapshot-save", "license-read"},
        }.get(level, set())
    )


# -- decoding ------------------------------------------------------------------


def _decode(rules: str) -> dict[str, Any]:
    if rules.lstrip().startswith("{"):
        try:
            data = json.loads(rules)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Failed to parse ACL Policy: {exc}") from None
        if not isinstance(data, dict):
            raise ValidationError("Failed to parse ACL Policy: root should be an object")
        return data
    try:
        body = tree_to_body(parse_tree(rules, ""))
    except ValidationError as exc:
        raise ValidationError(f"Failed to parse ACL Policy: {exc}") from None
    except Exception as exc:  # python-hcl2 transform errors
        raise ValidationError(f"Failed to parse ACL Policy: {exc}") from None
    return body


def _labelled(raw: Any, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """`kind "label" { ... }` blocks, from HCL (list of {label: body}) or JSON
    (an object of label -> body, or a list of such objects)."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError(f"Failed to parse ACL Policy: {kind} must be a block")
        labelled = bool(item) and all(
            isinstance(v, dict)
            or (k != "variables" and isinstance(v, list) and all(isinstance(x, dict) for x in v))
            for k, v in item.items()
        )
        if not labelled:
            # a block without its label: Nomad reports the missing name
            out.append(("", item))
            continue
        for label, body in item.items():
            for blk in body if isinstance(body, list) else [body]:
                if not isinstance(blk, dict):
                    raise ValidationError(f'Failed to parse ACL Policy: {kind} "{label}" body')
                out.append((str(label), blk))
    return out


def _single(raw: Any, kind: str) -> dict[str, Any] | None:
    """An unlabelled block (`node { ... }`); a second one is a duplicate key."""
    if raw is None:
        return None
    if isinstance(raw, list):
        if len(raw) != 1:
            raise ValidationError(f"Invalid or duplicate policy keys: {kind}")
        raw = raw[0]
    if not isinstance(raw, dict):
        raise ValidationError(f"Failed to parse ACL Policy: {kind} must be a block")
    return raw


def _check_keys(blk: dict[str, Any], allowed: set[str], where: str, strict: bool) -> None:
    extra = sorted(k for k in blk if k not in allowed)
    if extra and strict:
        raise ValidationError(f"Invalid or duplicate policy keys: {', '.join(extra)} (in {where})")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"Failed to parse ACL Policy: {where} must be a string")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"Failed to parse ACL Policy: {where} must be a list of strings")
    return list(value)
