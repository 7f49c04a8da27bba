"""Node fingerprint: sane resources and attributes, persistent identity,
driver detection."""

from __future__ import annotations

import gc
import platform
from pathlib import Path

import docker
import psutil
import pytest

from controlplane import __version__
from controlplane.client.config import ClientConfig
from controlplane.client.fingerprint import fingerprint_node, go_arch, refresh_drivers
from controlplane.client.wiretime import rfc3339
from controlplane.drivers.base import Fingerprint
from controlplane.drivers.docker import DockerDriver
from controlplane.drivers.mock import MockDriver
from controlplane.structs import DriverInfo


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


# The SDK leaks the socket of a failed connect; collect it inside this test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_docker_without_an_engine_is_undetected_in_the_drivers_map(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41")
    try:
        node = fingerprint_node(
            config(tmp_path), {"docker": DockerDriver(client=client)}, clock=lambda: 1.0
        )
    finally:
        client.close()
        gc.collect()
    assert node.drivers["docker"] == DriverInfo(
        attributes={},
        detected=False,
        healthy=False,
        health_description="Failed to connect to docker daemon",
        update_time=rfc3339(1.0),
    )
    assert not any(k.startswith("driver.docker") for k in node.attributes)


@pytest.mark.docker
def test_docker_with_an_engine_in_the_drivers_map(
    tmp_path: Path, docker_engine: docker.DockerClient
) -> None:
    drv = DockerDriver()
    try:
        node = fingerprint_node(config(tmp_path), {"docker": drv})
    finally:
        drv.close()
    info = node.drivers["docker"]
    assert info.detected and info.healthy and info.health_description == "Healthy"
    assert info.attributes is not None
    assert info.attributes["driver.docker.version"] == docker_engine.version()["Version"]
    assert node.attributes["driver.docker"] == "1"
    assert node.attributes["driver.docker.bridge_ip"] == info.attributes["driver.docker.bridge_ip"]


class FlakyDriver(MockDriver):
    """Healthy or not, as the test says."""

    name = "flaky"
    healthy = True

    def fingerprint(self) -> Fingerprint:
        if self.healthy:
            return Fingerprint(True, True, "Healthy", {"driver.flaky.version": "2"})
        return Fingerprint(True, False, "Failed to connect to docker daemon")


def test_refresh_drivers_reports_health_changes_only(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    drv = FlakyDriver()
    node = fingerprint_node(cfg, {"flaky": drv}, clock=lambda: 1.0)
    assert node.attributes["driver.flaky"] == "1"
    assert refresh_drivers(node, cfg, {"flaky": drv}, now=2.0) is None  # only the time moved

    drv.healthy = False
    sick = refresh_drivers(node, cfg, {"flaky": drv}, now=3.0)
    assert sick is not None
    assert sick.drivers["flaky"].detected and not sick.drivers["flaky"].healthy
    assert sick.drivers["flaky"].update_time == rfc3339(3.0)
    assert "driver.flaky.version" not in sick.attributes
    assert sick.attributes["driver.flaky"] == "1"  # still detected
    assert sick.attributes["kernel.name"] == node.attributes["kernel.name"]

    drv.healthy = True
    well = refresh_drivers(sick, cfg, {"flaky": drv}, now=4.0)
    assert well is not None and well.drivers["flaky"].healthy
    assert well.attributes["driver.flaky.version"] == "2"


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
