"""docker task -> container options: turns a task's `config` block, resources,
ports, env and directories into docker SDK `containers.create` keyword
arguments, as Nomad's docker driver builds its container config.

Key names and typed access are docker_config.py's, filesystem options
docker_mounts.py's. Pure: never calls the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from signal import Signals
from typing import Any

from docker.types import LogConfig, Ulimit

from controlplane.drivers.base import DriverError, TaskConfig
from controlplane.drivers.docker_config import (
    UNSUPPORTED_KEYS,
    as_block,
    as_blocks,
    as_bool,
    as_int,
    as_map,
    as_str,
    as_str_list,
    as_str_map,
    check_keys,
)
from controlplane.drivers.docker_mounts import binds, device, mount, task_dirs
from controlplane.drivers.raw_exec import signal_number
from controlplane.structs import AllocatedPortMapping

log = logging.getLogger(__name__)

# Nomad's label names (drivers/docker/driver.go). alloc_id marks a container
# as Nomad's; the others are Nomad's `extra_labels`, always set here.
LABEL_ALLOC_ID = "com.hashicorp.nomad.alloc_id"
LABEL_JOB_ID = "com.hashicorp.nomad.job_id"
LABEL_JOB_NAME = "com.hashicorp.nomad.job_name"
LABEL_PARENT_JOB_ID = "com.hashicorp.nomad.parent_job_id"
LABEL_TASK_GROUP_NAME = "com.hashicorp.nomad.task_group_name"
LABEL_TASK_NAME = "com.hashicorp.nomad.task_name"
LABEL_NAMESPACE = "com.hashicorp.nomad.namespace"

MIB = 1024 * 1024

# Docker's default capability set, Nomad's default `allow_caps`.
DOCKER_DEFAULT_CAPS = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
     "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)  # fmt: skip

# Nomad's plugin default: keeps the engine's own copy of the logs small.
DEFAULT_LOG_CONFIG = {"type": "json-file", "config": {"max-file": "2", "max-size": "2m"}}

# The env vars naming the task directories, and which of task_dirs() each is.
_DIR_ENV = ("NOMAD_ALLOC_DIR", "NOMAD_TASK_DIR", "NOMAD_SECRETS_DIR")


@dataclass(frozen=True)
class DockerOptions:
    """The driver's own settings (Nomad's `plugin "docker" { config {} }`)."""

    # host IP for published ports; "" uses each port's allocated host IP
    publish_ip: str = ""
    # host paths outside the allocation may be mounted (Nomad -dev allows it)
    volumes_enabled: bool = True
    allow_privileged: bool = False
    allow_caps: frozenset[str] = field(default_factory=lambda: DOCKER_DEFAULT_CAPS)


# config key -> (SDK keyword, coercion): options that pass straight through
_DIRECT: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "work_dir": ("working_dir", as_str),
    "hostname": ("hostname", as_str),
    "dns_servers": ("dns", as_str_list),
    "dns_search_domains": ("dns_search", as_str_list),
    "dns_options": ("dns_opt", as_str_list),
    "extra_hosts": ("extra_hosts", as_str_list),
    "group_add": ("group_add", as_str_list),
    "init": ("init", as_bool),
    "interactive": ("stdin_open", as_bool),
    "tty": ("tty", as_bool),
    "ipc_mode": ("ipc_mode", as_str),
    "pid_mode": ("pid_mode", as_str),
    "uts_mode": ("uts_mode", as_str),
    "userns_mode": ("userns_mode", as_str),
    "readonly_rootfs": ("read_only", as_bool),
    "security_opt": ("security_opt", as_str_list),
    "shm_size": ("shm_size", as_int),
    "pids_limit": ("pids_limit", as_int),
    "cpuset_cpus": ("cpuset_cpus", as_str),
    "runtime": ("runtime", as_str),
    "mac_address": ("mac_address", as_str),
    "storage_opt": ("storage_opt", as_str_map),
    "sysctl": ("sysctls", as_str_map),
    "volume_driver": ("volume_driver", as_str),
}


def container_name(cfg: TaskConfig) -> str:
    return f"{cfg.task_name.replace('/', '_')}-{cfg.alloc_id}"


def container_options(cfg: TaskConfig, opts: DockerOptions | None = None) -> dict[str, Any]:
    """docker SDK `containers.create` keyword arguments for this task;
    DriverError (not recoverable) for a config Nomad would reject."""
    opts = opts or DockerOptions()
    conf = cfg.config
    check_keys(conf)
    isolation = as_str("isolation", conf.get("isolation", ""))
    if isolation:
        raise DriverError(
            "Failed to create container configuration, "
            f'cannot use isolation mode "{isolation}" on linux',
            recoverable=False,
        )
    for key in sorted(UNSUPPORTED_KEYS & conf.keys()):
        log.warning("docker: config %r is not supported, ignored task=%s", key, cfg.task_name)
    kwargs: dict[str, Any] = {
        "image": as_str("image", conf["image"]).removeprefix("https://"),
        "name": container_name(cfg),
        "detach": True,
        "environment": container_env(cfg),
        "labels": container_labels(cfg),
        "stop_signal": Signals(signal_number(cfg.kill_signal or "SIGTERM")).name,
        "log_config": log_config(conf),
        "volumes": binds(cfg, opts.volumes_enabled),
        **command(conf),
        **security(conf, opts),
        **network(cfg, opts),
        **memory_limits(cfg),
    }
    for key, (kwarg, coerce) in _DIRECT.items():
        if key in conf:
            kwargs[kwarg] = coerce(key, conf[key])
    if cfg.user:
        kwargs["user"] = cfg.user
    if cfg.cpu_mhz > 0:
        kwargs["cpu_shares"] = max(2, cfg.cpu_mhz)  # the engine's minimum is 2
    blocks = [*as_blocks("mount", conf.get("mount")), *as_blocks("mounts", conf.get("mounts"))]
    if blocks:
        kwargs["mounts"] = [mount(cfg, opts.volumes_enabled, b) for b in blocks]
    if "ulimit" in conf:
        kwargs["ulimits"] = ulimits(as_str_map("ulimit", conf["ulimit"]))
    if "devices" in conf:
        kwargs["devices"] = [device(d) for d in as_blocks("devices", conf["devices"])]
    health = as_block("healthchecks", conf.get("healthchecks"))
    if as_bool("healthchecks.disable", health.get("disable", False)):
        kwargs["healthcheck"] = {"test": ["NONE"]}  # switch off the image's own check
    return kwargs


def command(conf: dict[str, Any]) -> dict[str, Any]:
    """`command` + `args` (Nomad: command is one program, never split) and `entrypoint`."""
    out: dict[str, Any] = {}
    args = as_str_list("args", conf.get("args") or [])
    if "command" in conf:
        cmd = as_str("command", conf["command"])
        if not cmd.strip():
            raise DriverError(f"command empty: {cmd!r}", recoverable=False)
        if cmd.strip() != cmd:
            raise DriverError(f"command contains extra white space: {cmd!r}", recoverable=False)
        out["command"] = [cmd, *args]
    elif args:
        out["command"] = args
    if "entrypoint" in conf:
        out["entrypoint"] = as_str_list("entrypoint", conf["entrypoint"])
    return out


def container_env(cfg: TaskConfig) -> dict[str, str]:
    """The task env, with the task directories where the container sees them."""
    env = dict(cfg.env)
    for key, (host, target) in zip(_DIR_ENV, task_dirs(cfg), strict=True):
        if host and env.get(key) == host:
            env[key] = target
    return env


def container_labels(cfg: TaskConfig) -> dict[str, str]:
    """The config's `labels`, then Nomad's (which win: they identify the container)."""
    labels = as_str_map("labels", cfg.config.get("labels") or {})
    labels.update(
        {
            LABEL_ALLOC_ID: cfg.alloc_id,
            LABEL_JOB_ID: cfg.job_id,
            LABEL_JOB_NAME: cfg.env.get("NOMAD_JOB_NAME") or cfg.job_id,
            LABEL_TASK_GROUP_NAME: cfg.task_group,
            LABEL_TASK_NAME: cfg.task_name,
            LABEL_NAMESPACE: cfg.env.get("NOMAD_NAMESPACE") or "default",
        }
    )
    if cfg.env.get("NOMAD_JOB_PARENT_ID"):
        labels[LABEL_PARENT_JOB_ID] = cfg.env["NOMAD_JOB_PARENT_ID"]
    return labels


def memory_limits(cfg: TaskConfig) -> dict[str, int]:
    """Nomad's memoryLimits: with a hard limit (`memory_max`, or the config's
    `memory_hard_limit`) `memory` is only the reservation; without one,
    `memory` is the hard limit. No swap: the swap limit equals the limit."""
    hard_limit = as_int("memory_hard_limit", cfg.config.get("memory_hard_limit", 0))
    hard_mb = max(hard_limit, cfg.memory_max_mb)
    out: dict[str, int] = {}
    if hard_mb > 0:
        out["mem_limit"] = hard_mb * MIB
        if cfg.memory_mb > 0:
            out["mem_reservation"] = cfg.memory_mb * MIB
    elif cfg.memory_mb > 0:
        out["mem_limit"] = cfg.memory_mb * MIB
    if "mem_limit" in out:
        out["memswap_limit"] = out["mem_limit"]
    return out


def log_config(conf: dict[str, Any]) -> LogConfig:
    """The engine's logging driver. Must stay readable (json-file, local,
    journald): docker_logs.py copies the task's output from it."""
    block = as_block("logging", conf.get("logging"))
    kind = as_str("logging.type", block.get("type") or block.get("driver") or "")
    config = as_str_map("logging.config", block.get("config") or {})
    if not kind and not config:
        return LogConfig(**DEFAULT_LOG_CONFIG)
    return LogConfig(type=kind or "json-file", config=config)


def security(conf: dict[str, Any], opts: DockerOptions) -> dict[str, Any]:
    """`privileged` (only where the agent allows it) and `cap_add` / `cap_drop`
    (adding only capabilities in the agent's `allow_caps`)."""
    out: dict[str, Any] = {}
    if as_bool("privileged", conf.get("privileged", False)):
        if not opts.allow_privileged:
            raise DriverError("Docker privileged mode is disabled on this Nomad agent", False)
        out["privileged"] = True
    cap_add = [_cap(c) for c in as_str_list("cap_add", conf.get("cap_add") or [])]
    cap_drop = [_cap(c) for c in as_str_list("cap_drop", conf.get("cap_drop") or [])]
    allowed = {_cap(c) for c in opts.allow_caps}
    if "ALL" not in allowed:
        wanted = (allowed | DOCKER_DEFAULT_CAPS) if "ALL" in cap_add else set(cap_add)
        missing = sorted(wanted - allowed)
        if missing:
            raise DriverError(
                "driver does not allow the following capabilities: "
                + ", ".join(c.lower() for c in missing),
                recoverable=False,
            )
    if cap_add:
        out["cap_add"] = cap_add
    if cap_drop:
        out["cap_drop"] = cap_drop
    return out


def _cap(name: str) -> str:
    return name.strip().upper().removeprefix("CAP_")


def ulimits(spec: dict[str, str]) -> list[Ulimit]:
    """`nofile = "1024:2048"` (soft:hard; the hard limit defaults to the soft)."""
    out = []
    for name, raw in sorted(spec.items()):
        soft, _, hard = raw.partition(":")
        try:
            out.append(Ulimit(name=name, soft=int(soft), hard=int(hard or soft)))
        except ValueError:
            raise DriverError(f"Malformed ulimit specification {name}: {raw!r}", False) from None
    return out


def network(cfg: TaskConfig, opts: DockerOptions) -> dict[str, Any]:
    mode = as_str("network_mode", cfg.config.get("network_mode", ""))
    out: dict[str, Any] = {}
    if mode:
        out["network_mode"] = mode
    ports = published_ports(cfg.config, cfg.ports, opts.publish_ip)
    # host and shared-namespace containers have no ports of their own to publish
    if ports and mode != "host" and not mode.startswith("container:"):
        out["ports"] = ports
    return out


def published_ports(
    conf: dict[str, Any], allocated: Iterable[AllocatedPortMapping], publish_ip: str = ""
) -> dict[str, list[tuple[str, int]]]:
    """`{"<container port>/tcp": [(host ip, host port)], ".../udp": ...}` for
    each port label the task names in `ports` (container port: the port's
    `to`, else its host port) or maps with the legacy `port_map` (container
    port: the map's value). Both protocols, as Nomad publishes them."""
    port_map = {
        k: as_int(f"port_map.{k}", v)
        for k, v in as_map("port_map", conf.get("port_map") or {}).items()
    }
    labels = as_str_list("ports", conf.get("ports") or [])
    by_label = {pm.label: pm for pm in allocated}
    published: dict[str, list[tuple[str, int]]] = {}
    for label in dict.fromkeys([*labels, *port_map]):
        pm = by_label.get(label)
        if pm is None:
            raise DriverError(f'Port "{label}" not found, check network block', False)
        to = port_map.get(label) or (pm.to if pm.to > 0 else pm.value)
        host_ip = publish_ip or pm.host_ip or "127.0.0.1"
        for proto in ("tcp", "udp"):
            published.setdefault(f"{to}/{proto}", []).append((host_ip, pm.value))
    return published
