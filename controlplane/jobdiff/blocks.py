"""Diffs of the nested blocks shared by groups and tasks: networks and ports,
resources, services and checks, task config, templates, vault, volumes,
spreads and artifacts. Each returns ObjectDiffs named as Nomad names them.
"""

from __future__ import annotations

from typing import Any

from controlplane.structs import (
    NetworkResource,
    Port,
    Resources,
    Service,
    ServiceCheck,
    Spread,
)

from .flatten import Flat, flatten_deep, flatten_mapping, flatten_struct
from .primitives import (
    blocks_diff,
    field_diffs,
    keyed_diffs,
    primitive_object_diff,
    primitive_object_set_diff,
    sort_objects,
    string_set_diff,
)
from .structs import DiffType, ObjectDiff

_NETWORK_SKIP = frozenset({"Device", "CIDR", "IP"})
_DYNAMIC_PORT_SKIP = frozenset({"Value"})

# -- networks ---------------------------------------------------------------------


def port_diffs(
    old: list[Port] | None, new: list[Port] | None, dynamic: bool, contextual: bool
) -> list[ObjectDiff]:
    """Ports matched by label; a dynamic port's Value is assigned at placement,
    so it is not part of the diff."""
    name = "Dynamic Port" if dynamic else "Static Port"
    skip = _DYNAMIC_PORT_SKIP if dynamic else frozenset()

    def one(o: Port | None, n: Port | None) -> ObjectDiff | None:
        return primitive_object_diff(
            flatten_struct(o, skip) if o else None,
            flatten_struct(n, skip) if n else None,
            name,
            contextual,
        )

    return keyed_diffs(old, new, lambda p: p.label, one)


def _dns_flat(dns: dict[str, Any]) -> Flat:
    return {
        key: ",".join(str(v) for v in dns[key])
        for key in ("Servers", "Searches", "Options")
        if dns.get(key)
    }


def network_diff(
    old: NetworkResource | None, new: NetworkResource | None, contextual: bool
) -> ObjectDiff | None:
    def children(o: NetworkResource | None, n: NetworkResource | None) -> list[ObjectDiff]:
        objects = port_diffs(
            o.reserved_ports if o else None, n.reserved_ports if n else None, False, contextual
        )
        objects += port_diffs(
            o.dynamic_ports if o else None, n.dynamic_ports if n else None, True, contextual
        )
        dns = blocks_diff(
            (o.dns or None) if o else None,
            (n.dns or None) if n else None,
            "DNS",
            contextual,
            _dns_flat,
        )
        if dns is not None:
            objects.append(dns)
        return objects

    return blocks_diff(
        old, new, "Network", contextual, lambda n: flatten_struct(n, _NETWORK_SKIP), children
    )


def network_diffs(
    old: list[NetworkResource] | None, new: list[NetworkResource] | None, contextual: bool
) -> list[ObjectDiff]:
    """Networks compared as a set: any change is a Deleted plus an Added network."""
    old_list, new_list = list(old or ()), list(new or ())
    diffs = [network_diff(o, None, contextual) for o in old_list if o not in new_list]
    diffs += [network_diff(None, n, contextual) for n in new_list if n not in old_list]
    return sort_objects(d for d in diffs if d is not None)


# -- resources ----------------------------------------------------------------------


def _device_diffs(
    old: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None, contextual: bool
) -> list[ObjectDiff]:
    def one(o: dict[str, Any] | None, n: dict[str, Any] | None) -> ObjectDiff | None:
        return blocks_diff(o, n, "Device", contextual, flatten_mapping)

    return keyed_diffs(old, new, lambda d: str(d.get("Name", "")), one)


def resources_diff(
    old: Resources | None, new: Resources | None, contextual: bool
) -> ObjectDiff | None:
    def children(o: Resources | None, n: Resources | None) -> list[ObjectDiff]:
        objects = network_diffs(o.networks if o else None, n.networks if n else None, contextual)
        objects += _device_diffs(o.devices if o else None, n.devices if n else None, contextual)
        return objects

    return blocks_diff(old, new, "Resources", contextual, flatten_struct, children)


# -- services ---------------------------------------------------------------------------


def _check_diff(
    old: ServiceCheck | None, new: ServiceCheck | None, contextual: bool
) -> ObjectDiff | None:
    def children(o: ServiceCheck | None, n: ServiceCheck | None) -> list[ObjectDiff]:
        objects = []
        header = blocks_diff(
            (o.header or None) if o else None,
            (n.header or None) if n else None,
            "Header",
            contextual,
            flatten_deep,
        )
        if header is not None:
            objects.append(header)
        restart = blocks_diff(
            o.check_restart if o else None,
            n.check_restart if n else None,
            "CheckRestart",
            contextual,
            flatten_struct,
        )
        if restart is not None:
            objects.append(restart)
        return objects

    return blocks_diff(old, new, "Check", contextual, flatten_struct, children)


def service_diff(old: Service | None, new: Service | None, contextual: bool) -> ObjectDiff | None:
    def children(o: Service | None, n: Service | None) -> list[ObjectDiff]:
        objects = []
        for name, attr in (("CanaryTags", "canary_tags"), ("Tags", "tags")):
            tags = string_set_diff(
                getattr(o, attr) if o else None, getattr(n, attr) if n else None, name, contextual
            )
            if tags is not None:
                objects.append(tags)
        objects += keyed_diffs(
            o.checks if o else None,
            n.checks if n else None,
            lambda c: c.name,
            lambda a, b: _check_diff(a, b, contextual),
        )
        return objects

    return blocks_diff(old, new, "Service", contextual, flatten_struct, children)


def _service_match(service: Service, index: int, others: list[Service], taken: set[int]) -> int:
    """Services have no stable identity: score candidates by name (3), port
    label (2) and position (1); a match needs more than 2 points."""
    best, best_score = -1, 2
    for i, other in enumerate(others):
        if i in taken:
            continue
        score = (
            (3 if other.name == service.name else 0)
            + (2 if other.port_label == service.port_label else 0)
            + (1 if i == index else 0)
        )
        if score > best_score:
            best, best_score = i, score
    return best


def service_diffs(
    old: list[Service] | None, new: list[Service] | None, contextual: bool
) -> list[ObjectDiff]:
    old_list, new_list = list(old or ()), list(new or ())
    if len(old_list) == 1 and len(new_list) == 1:
        only = service_diff(old_list[0], new_list[0], contextual)
        return [only] if only is not None else []
    diffs: list[ObjectDiff | None] = []
    taken: set[int] = set()
    for index, service in enumerate(old_list):
        match = _service_match(service, index, new_list, taken)
        if match < 0:
            diffs.append(service_diff(service, None, contextual))
            continue
        taken.add(match)
        diffs.append(service_diff(service, new_list[match], contextual))
    diffs += [service_diff(None, s, contextual) for i, s in enumerate(new_list) if i not in taken]
    return sort_objects(d for d in diffs if d is not None)


# -- task blocks --------------------------------------------------------------------------


def config_diff(
    old: dict[str, Any] | None, new: dict[str, Any] | None, contextual: bool
) -> ObjectDiff | None:
    """Driver config, flattened deeply (`image`, `port_map[0][db]`)."""
    if (old or None) == (new or None):
        return None
    if not old:
        kind = DiffType.ADDED
    elif not new:
        kind = DiffType.DELETED
    else:
        kind = DiffType.EDITED
    fields = field_diffs(flatten_deep(old or {}), flatten_deep(new or {}), contextual)
    return ObjectDiff(type=kind, name="Config", fields=fields)


def _args_diff(
    old: dict[str, Any] | None, new: dict[str, Any] | None, contextual: bool
) -> list[ObjectDiff]:
    args = string_set_diff((old or {}).get("Args"), (new or {}).get("Args"), "Args", contextual)
    return [args] if args is not None else []


def _template_diff(
    old: dict[str, Any] | None, new: dict[str, Any] | None, contextual: bool
) -> ObjectDiff | None:
    def children(o: dict[str, Any] | None, n: dict[str, Any] | None) -> list[ObjectDiff]:
        objects = []
        wait = blocks_diff(
            (o or {}).get("Wait") or None,
            (n or {}).get("Wait") or None,
            "Wait",
            contextual,
            flatten_deep,
        )
        if wait is not None:
            objects.append(wait)
        script = blocks_diff(
            (o or {}).get("ChangeScript") or None,
            (n or {}).get("ChangeScript") or None,
            "ChangeScript",
            contextual,
            flatten_mapping,
            lambda a, b: _args_diff(a, b, contextual),
        )
        if script is not None:
            objects.append(script)
        return objects

    return blocks_diff(old, new, "Template", contextual, flatten_mapping, children)


def template_diffs(
    old: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None, contextual: bool
) -> list[ObjectDiff]:
    """Templates matched by destination path (a lone template by position)."""
    old_list, new_list = list(old or ()), list(new or ())
    if len(old_list) == 1 and len(new_list) == 1:
        only = _template_diff(old_list[0], new_list[0], contextual)
        return [only] if only is not None else []
    return keyed_diffs(
        old_list,
        new_list,
        lambda t: str(t.get("DestPath", "")),
        lambda a, b: _template_diff(a, b, contextual),
    )


def vault_diff(
    old: dict[str, Any] | None, new: dict[str, Any] | None, contextual: bool
) -> ObjectDiff | None:
    def children(o: dict[str, Any] | None, n: dict[str, Any] | None) -> list[ObjectDiff]:
        policies = string_set_diff(
            (o or {}).get("Policies"), (n or {}).get("Policies"), "Policies", contextual
        )
        return [policies] if policies is not None else []

    return blocks_diff(old or None, new or None, "Vault", contextual, flatten_mapping, children)


def artifact_diffs(
    old: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None, contextual: bool
) -> list[ObjectDiff]:
    return primitive_object_set_diff(old, new, "Artifact", contextual, flatten_mapping)


def volume_mount_diffs(
    old: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None, contextual: bool
) -> list[ObjectDiff]:
    return primitive_object_set_diff(old, new, "VolumeMount", contextual, flatten_mapping)


def volume_diffs(
    old: dict[str, Any] | None, new: dict[str, Any] | None, contextual: bool
) -> list[ObjectDiff]:
    """Group volume requests matched by name."""

    def one(o: dict[str, Any] | None, n: dict[str, Any] | None) -> ObjectDiff | None:
        def children(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[ObjectDiff]:
            opts = blocks_diff(
                (a or {}).get("MountOptions") or None,
                (b or {}).get("MountOptions") or None,
                "MountOptions",
                contextual,
                flatten_mapping,
            )
            return [opts] if opts is not None else []

        return blocks_diff(o, n, "Volume", contextual, flatten_mapping, children)

    old_map, new_map = dict(old or {}), dict(new or {})
    diffs = [one(old_map.get(k), new_map.get(k)) for k in sorted(old_map.keys() | new_map.keys())]
    return [d for d in diffs if d is not None]


# -- placement ------------------------------------------------------------------------------


def spread_diffs(
    old: list[Spread] | None, new: list[Spread] | None, contextual: bool
) -> list[ObjectDiff]:
    """Spreads compared as a set, each with its targets as nested objects."""
    old_list, new_list = list(old or ()), list(new or ())

    def one(o: Spread | None, n: Spread | None) -> ObjectDiff | None:
        def targets(a: Spread | None, b: Spread | None) -> list[ObjectDiff]:
            return primitive_object_set_diff(
                a.spread_target if a else None,
                b.spread_target if b else None,
                "SpreadTarget",
                contextual,
                flatten_struct,
            )

        return blocks_diff(o, n, "Spread", contextual, flatten_struct, targets)

    diffs = [one(s, None) for s in old_list if s not in new_list]
    diffs += [one(None, s) for s in new_list if s not in old_list]
    return sort_objects(d for d in diffs if d is not None)
