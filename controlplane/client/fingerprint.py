"""Node fingerprint: what this machine is (CPU, memory, disk, kernel, OS),
which drivers work here, and the node's persistent identity.

Produces a `Node` ready to register; never talks to the servers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from controlplane import __version__
from controlplane.drivers.base import Driver
from controlplane.structs import (
    DriverInfo,
    NetworkResource,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeReservedResources,
    NodeResources,
)
from controlplane.structs.node import NodeReservedNetwork

from .config import ClientConfig
from .wiretime import rfc3339

log = logging.getLogger(__name__)

DEFAULT_MHZ_PER_CORE = 1000

# Python's machine() names -> Go's GOARCH names, as Nomad reports cpu.arch.
_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


@dataclass(frozen=True)
class CpuInfo:
    cores: int
    mhz_per_core: int
    model: str

    @property
    def total_mhz(self) -> int:
        return self.cores * self.mhz_per_core


def go_arch(machine: str) -> str:
    return _GO_ARCH.get(machine.lower(), machine.lower())


def _cpuinfo_fields(path: Path = Path("/proc/cpuinfo")) -> tuple[float, str]:
    """(MHz, model name) of the first processor listed, zeros when unknown."""
    mhz, model = 0.0, ""
    try:
        text = path.read_text()
    except OSError:
        return mhz, model
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "cpu MHz" and not mhz:
            with contextlib.suppress(ValueError):
                mhz = float(value.strip())
        elif key == "model name" and not model:
            model = value.strip()
    return mhz, model


def cpu_info() -> CpuInfo:
    cores = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    proc_mhz, model = _cpuinfo_fields()
    mhz = 0.0
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, RuntimeError):
        freq = None
    if freq is not None:
        # prefer the rated maximum: the current clock moves with load
        mhz = freq.max or freq.current
    if not mhz:
        mhz = proc_mhz
    per_core = int(mhz) if mhz >= 1 else DEFAULT_MHZ_PER_CORE
    return CpuInfo(cores=cores, mhz_per_core=per_core, model=model or platform.processor())


def os_release(path: Path = Path("/etc/os-release")) -> tuple[str, str]:
    """(ID, VERSION_ID) from os-release, e.g. ("debian", "12")."""
    fields: dict[str, str] = {}
    try:
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip('"')
    except OSError:
        pass
    return fields.get("ID", platform.system().lower()), fields.get("VERSION_ID", "")


def _mount_device(path: Path) -> str:
    """The device of the mount holding `path` (longest matching mountpoint)."""
    best, device = "", ""
    target = str(path.resolve())
    try:
        parts = psutil.disk_partitions(all=True)
    except OSError:
        return ""
    for p in parts:
        mp = p.mountpoint
        inside = target == mp or target.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) > len(best):
            best, device = mp, p.device
    return device


def load_or_create_id(path: Path) -> str:
    """A UUID kept in `path`, created on first use so restarts keep it."""
    try:
        existing = path.read_text().strip()
        if existing:
            return existing
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    new_id = str(uuid.uuid4())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new_id)
    os.replace(tmp, path)
    return new_id


def fingerprint_drivers(
    config: ClientConfig, drivers: Mapping[str, Driver], now: float
) -> tuple[dict[str, DriverInfo], dict[str, str]]:
    """DriverInfo per enabled driver (Nomad's `Node.Drivers`), and the node
    attributes the detected ones contribute: their own plus `driver.<name>`
    = "1", which Nomad keeps for constraints and older schedulers."""
    infos: dict[str, DriverInfo] = {}
    attrs: dict[str, str] = {}
    for name, driver in sorted(drivers.items()):
        if not config.driver_enabled(name):
            continue
        try:
            fp = driver.fingerprint()
        except Exception as exc:  # a broken driver must not stop the node
            log.warning("driver fingerprint failed driver=%s: %s", name, exc)
            infos[name] = DriverInfo(
                detected=False,
                healthy=False,
                health_description=f"fingerprint failed: {exc}",
                update_time=rfc3339(now),
            )
            continue
        infos[name] = DriverInfo(
            attributes=dict(fp.attributes),
            detected=fp.detected,
            healthy=fp.healthy,
            health_description=fp.health_description,
            update_time=rfc3339(now),
        )
        if fp.detected:
            attrs.update(fp.attributes)
            attrs[f"driver.{name}"] = "1"
    return infos, attrs


def _driver_health(infos: Mapping[str, DriverInfo]) -> dict[str, tuple[object, ...]]:
    return {
        name: (i.detected, i.healthy, i.health_description, sorted((i.attributes or {}).items()))
        for name, i in infos.items()
    }


def refresh_drivers(
    node: Node, config: ClientConfig, drivers: Mapping[str, Driver], now: float
) -> Node | None:
    """Fingerprint the drivers again (Nomad does every 30 s): the node with
    the new `Drivers` map and driver attributes when a driver's detection,
    health or attributes changed, else None (nothing to re-register)."""
    infos, driver_attrs = fingerprint_drivers(config, drivers, now)
    if _driver_health(infos) == _driver_health(node.drivers or {}):
        return None
    # every `driver.*` attribute comes from a driver fingerprint
    attrs = {k: v for k, v in node.attributes.items() if not k.startswith("driver.")}
    attrs.update(driver_attrs)
    return node.replace(attributes=attrs, drivers=infos)


def fingerprint_node(
    config: ClientConfig,
    drivers: Mapping[str, Driver] | None = None,
    clock: Callable[[], float] = time.time,
) -> Node:
    """Fingerprint this machine into a Node (status `initializing`)."""
    client_dir = config.client_dir
    node_id = load_or_create_id(client_dir / "node-id")
    secret_id = load_or_create_id(client_dir / "secret-id")
    data_dir = config.data_path
    data_dir.mkdir(parents=True, exist_ok=True)

    cpu = cpu_info()
    mem_total = psutil.virtual_memory().total
    disk = shutil.disk_usage(data_dir)
    os_name, os_version = os_release()
    uname = platform.uname()

    attrs: dict[str, str] = {
        "kernel.name": uname.system.lower(),
        "kernel.version": uname.release,
        "kernel.arch": uname.machine,
        "cpu.arch": go_arch(uname.machine),
        "cpu.numcores": str(cpu.cores),
        "cpu.reservablecores": str(cpu.cores),
        "cpu.frequency": str(cpu.mhz_per_core),
        "cpu.totalcompute": str(cpu.total_mhz),
        "cpu.modelname": cpu.model,
        "memory.totalbytes": str(mem_total),
        "os.name": os_name,
        "os.version": os_version,
        "unique.hostname": socket.gethostname(),
        "unique.network.ip-address": config.advertise_ip,
        "unique.storage.volume": _mount_device(data_dir),
        "unique.storage.bytestotal": str(disk.total),
        "unique.storage.bytesfree": str(disk.free),
        "nomad.version": __version__,
    }
    if config.http_addr:
        attrs["unique.advertise.address"] = config.http_addr
    # jobs can run this installation's CLI (the `nomadtui lb` system job)
    nomadtui_bin = Path(sys.executable).with_name("nomadtui")
    if nomadtui_bin.is_file():
        attrs["nomadtui.bin"] = str(nomadtui_bin)

    now = clock()
    driver_infos, driver_attrs = fingerprint_drivers(config, drivers or {}, now)
    attrs.update(driver_attrs)

    resources = NodeResources(
        cpu=NodeCpuResources(
            cpu_shares=cpu.total_mhz,
            total_cpu_cores=cpu.cores,
            reservable_cpu_cores=list(range(cpu.cores)),
        ),
        memory=NodeMemoryResources(memory_mb=mem_total // (1024 * 1024)),
        disk=NodeDiskResources(disk_mb=disk.free // (1024 * 1024)),
        networks=[
            NetworkResource(
                mode="host",
                device="",
                cidr=f"{config.advertise_ip}/32",
                ip=config.advertise_ip,
            )
        ],
        min_dynamic_port=config.min_dynamic_port,
        max_dynamic_port=config.max_dynamic_port,
    )
    reserved = NodeReservedResources(
        cpu=NodeCpuResources(cpu_shares=config.reserved_cpu_mhz),
        memory=NodeMemoryResources(memory_mb=config.reserved_memory_mb),
        disk=NodeDiskResources(disk_mb=config.reserved_disk_mb),
        networks=NodeReservedNetwork(reserved_host_ports=config.reserved_ports),
    )
    return Node(
        id=node_id,
        secret_id=secret_id,
        datacenter=config.datacenter,
        name=config.node_name,
        http_addr=config.http_addr,
        tls_enabled=config.tls_enabled,
        attributes=attrs,
        node_resources=resources,
        reserved_resources=reserved,
        meta=dict(config.meta),
        node_class=config.node_class,
        node_pool=config.node_pool,
        status="initializing",
        status_updated_at=int(now),
        drivers=driver_infos,
    )
