"""What a docker task sees of the host's filesystem: the allocation's
directories Nomad mounts into every container, `volumes` binds, `mount`
blocks (bind / volume / tmpfs) and `devices`.

Relative host paths are relative to the task's directory, as in Nomad; with
volumes disabled only paths inside the allocation may be mounted. Pure apart
from checking which task directories exist; never calls the engine.
"""

from __future__ import annotations

import os
from typing import Any

from docker.types import DriverConfig, Mount

from controlplane.drivers.base import DriverError, TaskConfig
from controlplane.drivers.docker_config import (
    as_block,
    as_bool,
    as_int,
    as_str,
    as_str_list,
    as_str_map,
)

# Where the task's directories appear inside the container (as in Nomad).
CONTAINER_ALLOC_DIR = "/alloc"
CONTAINER_LOCAL_DIR = "/local"
CONTAINER_SECRETS_DIR = "/secrets"


def task_sub_dir(cfg: TaskConfig, name: str) -> str:
    return os.path.join(cfg.task_dir, name) if cfg.task_dir else ""


def task_dirs(cfg: TaskConfig) -> list[tuple[str, str]]:
    """(host dir, container dir) of the alloc, local and secrets dirs."""
    return [
        (cfg.alloc_dir, CONTAINER_ALLOC_DIR),
        (task_sub_dir(cfg, "local"), CONTAINER_LOCAL_DIR),
        (task_sub_dir(cfg, "secrets"), CONTAINER_SECRETS_DIR),
    ]


def _alloc_root(cfg: TaskConfig) -> str:
    """The allocation's directory (parent of the task dir)."""
    return os.path.dirname(os.path.abspath(cfg.task_dir)) if cfg.task_dir else ""


def _inside(root: str, path: str) -> bool:
    return bool(root) and os.path.commonpath([root, os.path.abspath(path)]) == root


def host_path(cfg: TaskConfig, path: str) -> str:
    if os.path.isabs(path) or not cfg.task_dir:
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(cfg.task_dir, path))


def binds(cfg: TaskConfig, volumes_enabled: bool) -> list[str]:
    """`host:container[:mode]` binds: the task directories (those that
    exist), then the config's `volumes`."""
    out = [f"{host}:{target}" for host, target in task_dirs(cfg) if host and os.path.isdir(host)]
    volume_driver = as_str("volume_driver", cfg.config.get("volume_driver", ""))
    if volume_driver and not volumes_enabled:
        raise DriverError(
            f'volumes are not enabled; cannot use volume driver "{volume_driver}"', False
        )
    root = _alloc_root(cfg)
    for spec in as_str_list("volumes", cfg.config.get("volumes") or []):
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise DriverError(
                f'invalid docker volume "{spec}": want host:container[:mode]', recoverable=False
            )
        # with a volume driver the source is a volume name, not a path
        src = os.path.normpath(parts[0]) if volume_driver else host_path(cfg, parts[0])
        if not volumes_enabled and not _inside(root, src):
            raise DriverError(f'volumes are not enabled; cannot mount host paths: "{spec}"', False)
        out.append(":".join([src, *parts[1:]]))
    return out


def mount(cfg: TaskConfig, volumes_enabled: bool, block: dict[str, Any]) -> Mount:
    """One `mount { type = "bind" | "volume" | "tmpfs" ... }` block."""
    kind = as_str("mount.type", block.get("type") or "volume")
    target = as_str("mount.target", block.get("target", ""))
    source = as_str("mount.source", block.get("source", ""))
    read_only = as_bool("mount.readonly", block.get("readonly", False))
    if kind == "bind":
        source = host_path(cfg, source)
        if not volumes_enabled and not _inside(_alloc_root(cfg), source):
            raise DriverError(f'volumes are not enabled; cannot mount host path: "{source}"', False)
        bind = as_block("bind_options", block.get("bind_options"))
        propagation = as_str("bind_options.propagation", bind.get("propagation", "")) or None
        return Mount(target, source, type="bind", read_only=read_only, propagation=propagation)
    if kind == "tmpfs":
        if source:
            raise DriverError('invalid source, must be "" for tmpfs', recoverable=False)
        tmpfs = as_block("tmpfs_options", block.get("tmpfs_options"))
        size = as_int("tmpfs_options.size", tmpfs["size"]) if "size" in tmpfs else None
        mode = as_int("tmpfs_options.mode", tmpfs["mode"]) if "mode" in tmpfs else None
        return Mount(
            target, None, type="tmpfs", read_only=read_only, tmpfs_size=size, tmpfs_mode=mode
        )
    if kind == "volume":
        if not volumes_enabled:
            raise DriverError(f'volumes are not enabled; cannot mount volume: "{source}"', False)
        return _volume_mount(target, source, read_only, block)
    raise DriverError(
        f'invalid mount type, must be "bind", "volume", "tmpfs": "{kind}"', recoverable=False
    )


def _volume_mount(target: str, source: str, read_only: bool, block: dict[str, Any]) -> Mount:
    vol = as_block("volume_options", block.get("volume_options"))
    driver = as_block("driver_config", vol.get("driver_config"))
    driver_config = None
    if driver.get("name"):
        driver_config = DriverConfig(
            as_str("driver_config.name", driver["name"]),
            as_str_map("driver_config.options", driver.get("options") or {}) or None,
        )
    return Mount(
        target,
        source or None,
        type="volume",
        read_only=read_only,
        no_copy=as_bool("volume_options.no_copy", vol.get("no_copy", False)),
        labels=as_str_map("volume_options.labels", vol.get("labels") or {}) or None,
        driver_config=driver_config,
    )


def device(block: dict[str, Any]) -> str:
    """`host:container:permissions`; the container path defaults to the host's."""
    host = as_str("devices.host_path", block.get("host_path", ""))
    if not host:
        raise DriverError("host path must be set in configuration for devices", False)
    target = as_str("devices.container_path", block.get("container_path", "")) or host
    perms = as_str("devices.cgroup_permissions", block.get("cgroup_permissions", "")) or "rwm"
    if not set(perms) <= set("rwm"):
        raise DriverError(f"invalid cgroup permission string: {perms!r}", recoverable=False)
    return f"{host}:{target}:{perms}"
