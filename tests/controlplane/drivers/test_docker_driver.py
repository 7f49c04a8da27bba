"""docker driver lifecycle against the real local engine and busybox image:
fingerprint, start, output, exit codes, ports, stop / signal, destroy,
recover after a client restart, stats."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import msgspec
import pytest

from controlplane.drivers.base import DriverError, TaskConfig, TaskHandle
from controlplane.drivers.docker import UNREACHABLE, DockerDriver
from controlplane.structs import AllocatedPortMapping
from tests.controlplane.drivers.docker_harness import (
    free_port,
    http_get,
    image_config,
    read,
    tracked_driver,
)

pytestmark = pytest.mark.docker

MakeConfig = Callable[..., TaskConfig]

_START_IN_OTHER_CLIENT = """
import sys, msgspec
from controlplane.drivers.base import TaskConfig
from controlplane.drivers.docker import DockerDriver
cfg = msgspec.json.decode(sys.stdin.buffer.read(), type=TaskConfig)
sys.stdout.buffer.write(msgspec.json.encode(DockerDriver().start(cfg)))
"""


@pytest.fixture
def driver(docker_engine: docker.DockerClient, docker_image: str) -> Iterator[DockerDriver]:
    with tracked_driver(docker_engine) as drv:
        yield drv


def test_fingerprint_reports_engine_version_and_bridge(driver: DockerDriver) -> None:
    fp = driver.fingerprint()
    assert fp.detected and fp.healthy and fp.health_description == "Healthy"
    assert fp.attributes["driver.docker"] == "1"
    assert fp.attributes["driver.docker.version"]
    assert fp.attributes.get("driver.docker.bridge_ip", "").count(".") == 3
    assert "runc" in fp.attributes["driver.docker.runtimes"].split(",")
    assert fp.attributes["driver.docker.os_type"] == "linux"
    assert fp.attributes["driver.docker.volumes.enabled"] == "true"


# The SDK leaks the socket of a failed connect; collect it inside this test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_fingerprint_without_engine_is_undetected_not_an_error() -> None:
    client = docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41")
    try:
        fp = DockerDriver(client=client).fingerprint()
    finally:
        client.close()
        gc.collect()
    assert not fp.detected and not fp.healthy
    assert fp.health_description == UNREACHABLE == "Failed to connect to docker daemon"
    assert fp.attributes == {}


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_engine_lost_after_detection_is_unhealthy(docker_engine: docker.DockerClient) -> None:
    drv = DockerDriver()
    try:
        assert drv.fingerprint().healthy
        drv.close()
        drv._client = docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41")
        fp = drv.fingerprint()
    finally:
        drv.close()
        gc.collect()
    # Nomad: once seen, a silent engine is detected but unhealthy
    assert fp.detected and not fp.healthy
    assert fp.health_description == UNREACHABLE


def test_echo_output_lands_in_stdout_file(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    cfg = task_config(image_config(docker_image, "echo", "hello", "from", "docker"))
    handle = driver.start(cfg)
    result = driver.wait(handle, timeout=30)
    assert result is not None and result.successful()
    assert read(cfg.stdout_path) == "hello from docker\n"
    assert read(cfg.stderr_path) == ""


def test_exit_code_and_stderr_are_propagated(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    cfg = task_config(image_config(docker_image, "sh", "-c", "echo oops >&2; exit 3"))
    result = driver.wait(driver.start(cfg), timeout=30)
    assert result is not None and result.exit_code == 3 and not result.successful()
    assert read(cfg.stderr_path) == "oops\n"
    assert read(cfg.stdout_path) == ""


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_published_port_answers_http(
    driver: DockerDriver,
    docker_image: str,
    task_config: MakeConfig,
    eventually: Callable[..., Any],
    style: str,
) -> None:
    host_port = free_port()
    ports: dict[str, Any]
    if style == "modern":
        ports = {"ports": ["http"]}
        mapping = AllocatedPortMapping(label="http", value=host_port, to=8080, host_ip="127.0.0.1")
    else:
        ports = {"port_map": [{"http": 8080}]}
        mapping = AllocatedPortMapping(label="http", value=host_port, host_ip="127.0.0.1")
    cfg = task_config(
        image_config(docker_image, "httpd", "-f", "-p", "8080", "-h", "/www", **ports),
        ports=[mapping],
        memory_mb=64,
        cpu_mhz=100,
    )
    handle = driver.start(cfg)
    body = eventually(lambda: http_get(f"http://127.0.0.1:{host_port}/"), what="httpd")
    assert "nomadtui test page" in body

    driver.stop(handle, timeout=1)
    assert driver.inspect(handle).running is False
    assert http_get(f"http://127.0.0.1:{host_port}/") == ""


def test_stop_kills_a_running_container(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    handle = driver.start(task_config(image_config(docker_image, "sleep", "300")))
    assert driver.wait(handle, timeout=0.2) is None
    assert driver.inspect(handle).running
    driver.stop(handle, timeout=1)
    result = driver.wait(handle, timeout=10)
    assert result is not None and result.exit_code in (137, 143)


def test_stop_with_a_custom_signal_reaches_the_task(
    driver: DockerDriver,
    docker_image: str,
    task_config: MakeConfig,
    eventually: Callable[..., Any],
) -> None:
    script = "trap 'echo got-usr1; exit 0' USR1; echo ready; while :; do sleep 0.05; done"
    cfg = task_config(image_config(docker_image, "sh", "-c", script))
    handle = driver.start(cfg)
    eventually(lambda: "ready" in read(cfg.stdout_path), what="the trap to be set")
    driver.stop(handle, timeout=5, signal="SIGUSR1")
    result = driver.wait(handle, timeout=10)
    assert result is not None and result.successful()
    assert "got-usr1" in read(cfg.stdout_path)


def test_missing_image_fails_to_pull_recoverably(
    driver: DockerDriver, task_config: MakeConfig
) -> None:
    cfg = task_config({"image": "127.0.0.1:1/missing:1"})
    with pytest.raises(DriverError) as err:
        driver.start(cfg)
    assert str(err.value).startswith("Failed to pull `127.0.0.1:1/missing:1`: ")
    assert "connection refused" in str(err.value)
    assert err.value.recoverable  # counts against the restart policy


def test_destroy_removes_the_container(
    driver: DockerDriver,
    docker_engine: docker.DockerClient,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    handle = driver.start(task_config(image_config(docker_image, "sleep", "300")))
    driver.destroy(handle)
    driver.destroy(handle)  # idempotent
    with pytest.raises(docker.errors.NotFound):
        docker_engine.containers.get(handle.state["container_id"])


def test_recover_after_client_restart(
    driver: DockerDriver,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    script = "echo before; while [ ! -e /local/go ]; do sleep 0.05; done; echo after; exit 4"
    cfg = task_config(image_config(docker_image, "sh", "-c", script))
    out = subprocess.run(
        [sys.executable, "-c", _START_IN_OTHER_CLIENT],
        input=msgspec.json.encode(cfg),
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    handle = msgspec.json.decode(out, type=TaskHandle)
    # That client exited at once: it may or may not have copied "before".
    assert driver.recover(handle)
    assert driver.inspect(handle).running
    stats = driver.stats(handle)
    assert stats["rss_bytes"] > 0 and stats["pids"] >= 1
    (Path(cfg.task_dir) / "local" / "go").touch()  # /local is the task's local dir
    result = driver.wait(handle, timeout=30)
    assert result is not None and result.exit_code == 4
    assert read(cfg.stdout_path) == "before\nafter\n"


def test_recover_of_a_removed_container_fails(driver: DockerDriver) -> None:
    handle = TaskHandle(
        driver="docker", alloc_id="a", task_name="t", state={"container_id": "0" * 64}
    )
    assert not driver.recover(handle)


def test_stats_report_memory_and_cpu(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig, eventually: Callable[..., Any]
) -> None:
    # a busy loop, so CPU time grows between two samples
    handle = driver.start(
        task_config(image_config(docker_image, "sh", "-c", "while :; do :; done"))
    )
    first = driver.stats(handle)
    assert first["rss_bytes"] > 0 and first["pids"] == 1
    assert first["memory_bytes"] >= first["rss_bytes"]
    assert first["max_memory_bytes"] >= first["memory_bytes"]
    assert first["cpu_percent"] == 0.0  # no earlier sample to compare with

    def busy() -> dict[str, Any] | None:
        s = driver.stats(handle)
        return s if s["cpu_percent"] > 10 else None

    later = eventually(busy, what="CPU usage to show")
    assert later["cpu_user_s"] + later["cpu_system_s"] > first["cpu_user_s"]


def test_exec_task_runs_inside_the_container_for_script_checks(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    handle = driver.start(task_config(image_config(docker_image, "sleep", "300")))
    # the container's own filesystem: the test page exists only in the image
    output, code = driver.exec_task(handle, ["sh", "-c", "cat /www/index.html; exit 1"], 10)
    assert code == 1 and b"nomadtui test page" in output
    assert driver.exec_task(handle, ["true"], 10) == (b"", 0)
    with pytest.raises(TimeoutError):
        driver.exec_task(handle, ["sleep", "5"], 0.3)
    ip = driver.task_ip(handle)
    assert ip.count(".") == 3 and not ip.startswith("127.")
