"""The docker task `config` block as data: which keys exist (those of Nomad's
docker driver), typed access to their values, and the image reference and
registry auth they name.

Values arrive as the jobspec decoded them: HCL blocks are lists of maps and
interpolation may leave numbers and booleans as strings. A key or value Nomad
would reject is a non-recoverable DriverError worded like Nomad's parse
errors. Pure; never calls the engine.
"""

from __future__ import annotations

from typing import Any

from controlplane.drivers.base import DriverError

# The task config keys of Nomad's docker driver (its taskConfigSpec).
KNOWN_KEYS = frozenset(
    {
        "image", "advertise_ipv6_address", "args", "auth", "auth_soft_fail", "cap_add",
        "cap_drop", "command", "cpuset_cpus", "cpu_hard_limit", "cpu_cfs_period", "devices",
        "dns_search_domains", "dns_options", "dns_servers", "entrypoint", "extra_hosts",
        "force_pull", "group_add", "healthchecks", "hostname", "init", "interactive",
        "ipc_mode", "ipv4_address", "ipv6_address", "isolation", "labels", "load", "logging",
        "mac_address", "memory_hard_limit", "mount", "mounts", "network_aliases",
        "network_mode", "runtime", "pids_limit", "pid_mode", "ports", "port_map",
        "privileged", "image_pull_timeout", "readonly_rootfs", "security_opt", "shm_size",
        "storage_opt", "sysctl", "tty", "ulimit", "uts_mode", "userns_mode", "volumes",
        "volume_driver", "work_dir",
    }
)  # fmt: skip

# Accepted so Nomad job files run, but they change nothing here:
# user-defined networks and CPU quotas are not implemented. Each use is logged.
UNSUPPORTED_KEYS = frozenset(
    {"advertise_ipv6_address", "ipv4_address", "ipv6_address", "network_aliases",
     "cpu_hard_limit", "cpu_cfs_period"}
)  # fmt: skip


def parse_error(summary: str, detail: str) -> DriverError:
    # Nomad fails such a task before starting it; it never restarts.
    return DriverError(f"failed to parse config: {summary}: {detail}", recoverable=False)


def _type_error(key: str, want: str) -> DriverError:
    return parse_error(
        "Incorrect attribute value type",
        f'Inappropriate value for attribute "{key}": {want} required.',
    )


def check_keys(conf: dict[str, Any]) -> None:
    """Reject keys Nomad's docker driver does not know; require `image`."""
    for key in sorted(conf):
        if key not in KNOWN_KEYS:
            raise parse_error(
                "Unsupported argument", f'An argument named "{key}" is not expected here.'
            )
    if not conf.get("image"):
        raise parse_error(
            "Missing required argument",
            'The argument "image" is required, but no definition was found.',
        )


def as_str(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _type_error(key, "string")
    return str(value)


def as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise _type_error(key, "bool")


def as_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _type_error(key, "number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _type_error(key, "number") from None


def as_str_list(key: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _type_error(key, "list of string")
    return [as_str(key, v) for v in value]


def as_map(key: str, value: Any) -> dict[str, Any]:
    """A map, or HCL's list of maps (`[{"a": 1}, {"b": 2}]`), as one map."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return {str(k): v for m in value for k, v in m.items()}
    raise _type_error(key, "map")


def as_str_map(key: str, value: Any) -> dict[str, str]:
    return {k: as_str(f"{key}.{k}", v) for k, v in as_map(key, value).items()}


def as_blocks(key: str, value: Any) -> list[dict[str, Any]]:
    """Repeated blocks: a list of maps (a lone map is one block)."""
    if not value:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return list(value)
    raise _type_error(key, "list of blocks")


def as_block(key: str, value: Any) -> dict[str, Any]:
    """A single block (HCL gives a list holding one map); {} when absent."""
    blocks = as_blocks(key, value)
    if len(blocks) > 1:
        raise parse_error("Duplicate block", f'Only one "{key}" block is allowed.')
    return blocks[0] if blocks else {}


def config_flag(conf: dict[str, Any], key: str) -> bool:
    return as_bool(key, conf.get(key, False))


def pull_auth(conf: dict[str, Any]) -> dict[str, str] | None:
    """`auth { username password email server_address }` as the engine's
    X-Registry-Auth fields; None when the task gives none."""
    auth = as_block("auth", conf.get("auth"))
    fields = {
        "username": "username",
        "password": "password",
        "email": "email",
        "server_address": "serveraddress",
    }
    out = {wire: as_str(f"auth.{key}", auth[key]) for key, wire in fields.items() if auth.get(key)}
    return out or None


def split_image(image: str) -> tuple[str, str]:
    """`host:5000/repo:tag` -> (`host:5000/repo`, `tag`); no tag -> `latest`."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"
