"""docker driver against the real local engine and the local busybox image."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import msgspec
import pytest

from controlplane.drivers.base import DriverError, TaskConfig, TaskHandle
from controlplane.drivers.docker import (
    LABEL_ALLOC_ID,
    LABEL_JOB_ID,
    LABEL_TASK_NAME,
    DockerDriver,
    container_options,
)
from controlplane.structs import AllocatedPortMapping

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
    drv = DockerDriver()
    started_before = {c.id for c in _ours(docker_engine)}
    yield drv
    drv.close()
    for container in _ours(docker_engine):
        if container.id not in started_before:
            container.remove(force=True)


def _ours(client: docker.DockerClient) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": LABEL_ALLOC_ID}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read(path: str) -> str:
    return Path(path).read_text() if os.path.exists(path) else ""


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def image_config(image: str, *command: str, **extra: Any) -> dict[str, Any]:
    return {"image": image, "command": command[0], "args": list(command[1:]), **extra}


def test_fingerprint_reports_engine_version_and_bridge(driver: DockerDriver) -> None:
    fp = driver.fingerprint()
    assert fp.detected and fp.healthy
    assert fp.attributes["driver.docker"] == "1"
    assert fp.attributes["driver.docker.version"]
    assert fp.attributes.get("driver.docker.bridge_ip", "").count(".") == 3


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
    assert fp.health_description


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


def test_env_and_labels_are_set(
    driver: DockerDriver,
    docker_engine: docker.DockerClient,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    cfg = task_config(
        image_config(docker_image, "sh", "-c", 'echo "$GREETING"', labels=[{"team": "infra"}]),
        env={"GREETING": "hi there"},
    )
    handle = driver.start(cfg)
    assert driver.wait(handle, timeout=30) is not None
    assert read(cfg.stdout_path) == "hi there\n"
    container = docker_engine.containers.get(handle.state["container_id"])
    assert container.name == f"web-{cfg.alloc_id}"
    assert container.labels == {
        "team": "infra",
        LABEL_ALLOC_ID: cfg.alloc_id,
        LABEL_TASK_NAME: "web",
        LABEL_JOB_ID: "example",
    }


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_published_port_answers_http(
    driver: DockerDriver,
    docker_image: str,
    task_config: MakeConfig,
    eventually: Callable[..., Any],
    style: str,
) -> None:
    host_port = free_port()
    if style == "modern":
        ports = {"ports": ["http"]}
        mapping = AllocatedPortMapping(label="http", value=host_port, to=8080)
    else:
        ports = {"port_map": [{"http": 8080}]}
        mapping = AllocatedPortMapping(label="http", value=host_port)
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


def test_missing_image_fails_to_pull(driver: DockerDriver, task_config: MakeConfig) -> None:
    cfg = task_config({"image": "127.0.0.1:1/missing:1"})
    with pytest.raises(DriverError) as err:
        driver.start(cfg)
    assert str(err.value).startswith("Failed to pull `127.0.0.1:1/missing:1`: ")


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
    eventually: Callable[..., Any],
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
    (Path(cfg.task_dir) / "local" / "go").touch()  # /local is the task's local dir
    result = driver.wait(handle, timeout=30)
    assert result is not None and result.exit_code == 4
    assert read(cfg.stdout_path) == "before\nafter\n"


def test_recover_of_a_removed_container_fails(driver: DockerDriver) -> None:
    handle = TaskHandle(
        driver="docker", alloc_id="a", task_name="t", state={"container_id": "0" * 64}
    )
    assert not driver.recover(handle)


def test_container_options_translate_limits_volumes_and_host_network(
    task_config: MakeConfig,
) -> None:
    cfg = task_config(
        {
            "image": "img:1",
            "network_mode": "host",
            "ports": ["http"],
            "volumes": ["data:/data:ro", "/srv:/srv"],
            "entrypoint": ["/bin/sh"],
        },
        ports=[AllocatedPortMapping(label="http", value=25000, to=80)],
        memory_mb=128,
        memory_max_mb=256,
        cpu_mhz=500,
        kill_signal="SIGINT",
    )
    opts = container_options(cfg)
    assert "ports" not in opts  # host networking publishes nothing
    assert opts["network_mode"] == "host"
    assert opts["mem_limit"] == 256 * 1024 * 1024
    assert opts["mem_reservation"] == 128 * 1024 * 1024
    assert opts["cpu_shares"] == 500
    assert opts["stop_signal"] == "SIGINT"
    assert opts["entrypoint"] == ["/bin/sh"]
    assert f"{cfg.task_dir}/data:/data:ro" in opts["volumes"]
    assert "/srv:/srv" in opts["volumes"]
    assert f"{cfg.task_dir}/local:/local" in opts["volumes"]


def test_unknown_port_label_is_a_driver_error(task_config: MakeConfig) -> None:
    cfg = task_config({"image": "img:1", "ports": ["db"]})
    with pytest.raises(DriverError, match='Port "db" not found'):
        container_options(cfg)
