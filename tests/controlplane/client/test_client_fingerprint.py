"""Node fingerprint: sane resources and attributes, persistent identity,
driver detection."""

from __future__ import annotations

import platform
from pathlib import Path

import psutil

from controlplane import __version__
from controlplane.client.config import ClientConfig
from controlplane.client.fingerprint import fingerprint_node, go_arch
from controlplane.client.wiretime import rfc3339
from controlplane.drivers.base import Fingerprint
from controlplane.drivers.mock import MockDriver


class BrokenDriver(MockDriver):
    name = "broken"

    def fingerprint(self) -> Fingerprint:
        raise RuntimeError("no engine")


class AbsentDriver(MockDriver):
    name = "absent"

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(detected=False, attributes={"driver.absent": "1"})


def config(tmp_path: Path, **kw: object) -> ClientConfig:
    return ClientConfig(data_dir=tmp_path / "data", **kw)  # type: ignore[arg-type]


def test_resources_and_attributes(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        advertise_ip="10.1.2.3",
        http_addr="10.1.2.3:4646",
        reserved_cpu_mhz=100,
        reserved_memory_mb=64,
        meta={"rack": "r1"},
    )
    node = fingerprint_node(cfg, {"mock": MockDriver()}, clock=lambda: 1_700_000_000.5)
    attrs = node.attributes
    cores = psutil.cpu_count()

    cpu = node.node_resources.cpu
    assert cpu.total_cpu_cores == cores == int(attrs["cpu.numcores"])
    assert cpu.cpu_shares == int(attrs["cpu.totalcompute"])
    assert cpu.cpu_shares == cores * int(attrs["cpu.frequency"]) >= cores * 100
    assert node.node_resources.memory.memory_mb == psutil.virtual_memory().total // 2**20
    assert int(attrs["memory.totalbytes"]) == psutil.virtual_memory().total
    assert node.node_resources.disk.disk_mb > 0
    assert int(attrs["unique.storage.bytesfree"]) <= int(attrs["unique.storage.bytestotal"])
    assert attrs["kernel.name"] == platform.system().lower()
    assert attrs["kernel.version"] == platform.release()
    assert attrs["cpu.arch"] == go_arch(platform.machine())
    assert attrs["os.name"] and attrs["unique.hostname"]
    assert attrs["unique.network.ip-address"] == "10.1.2.3"
    assert attrs["nomad.version"] == __version__
    assert node.http_addr == "10.1.2.3:4646"
    assert node.meta == {"rack": "r1"}
    assert node.status == "initializing"
    assert node.datacenter == "dc1"
    assert node.reserved_resources.cpu.cpu_shares == 100
    assert node.reserved_resources.memory.memory_mb == 64
    assert node.node_resources.min_dynamic_port == 20000
    assert node.node_resources.max_dynamic_port == 32000
    assert node.drivers["mock"].update_time == "2023-11-14T22:13:20.500000000Z"


def test_node_id_is_persisted(tmp_path: Path) -> None:
    first = fingerprint_node(config(tmp_path))
    second = fingerprint_node(config(tmp_path))
    assert first.id == second.id
    assert len(first.id) == 36
    assert (tmp_path / "data" / "client" / "node-id").read_text() == first.id
    other = fingerprint_node(config(tmp_path / "elsewhere"))
    assert other.id != first.id


def test_drivers_map(tmp_path: Path) -> None:
    drivers = {"mock": MockDriver(), "broken": BrokenDriver(), "absent": AbsentDriver()}
    node = fingerprint_node(config(tmp_path), drivers)

    assert node.drivers["mock"].detected and node.drivers["mock"].healthy
    assert node.drivers["mock"].health_description == "Healthy"
    assert node.attributes["driver.mock"] == "1"
    assert not node.drivers["broken"].detected
    assert "no engine" in node.drivers["broken"].health_description
    assert not node.drivers["absent"].detected
    assert "driver.absent" not in node.attributes


def test_disabled_drivers_are_left_out(tmp_path: Path) -> None:
    node = fingerprint_node(config(tmp_path, drivers_enabled=[]), {"mock": MockDriver()})
    assert node.drivers == {}
    assert "driver.mock" not in node.attributes


def test_go_arch_names() -> None:
    assert go_arch("x86_64") == "amd64"
    assert go_arch("aarch64") == "arm64"
    assert go_arch("i686") == "386"


def test_rfc3339() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00.000000000Z"
    assert rfc3339(1.25) == "1970-01-01T00:00:01.250000000Z"
