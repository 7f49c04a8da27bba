"""The docker task config applied for real: labels, env, limits, OOM,
volumes and mounts, host networking, image pulls and loads, bad configs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from controlplane.drivers.base import DriverError, TaskConfig
from controlplane.drivers.docker import DockerDriver
from tests.controlplane.drivers.docker_harness import (
    free_port,
    http_get,
    image_config,
    ours,
    read,
    tracked_driver,
)

pytestmark = pytest.mark.docker

MakeConfig = Callable[..., TaskConfig]
MIB = 1024 * 1024


@pytest.fixture
def driver(docker_engine: docker.DockerClient, docker_image: str) -> Iterator[DockerDriver]:
    with tracked_driver(docker_engine) as drv:
        yield drv


def test_labels_env_and_limits_reach_the_container(
    driver: DockerDriver,
    docker_engine: docker.DockerClient,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    cfg = task_config(
        image_config(
            docker_image,
            "sh",
            "-c",
            'echo "$GREETING $NOMAD_TASK_DIR"; ls /local /alloc >/dev/null && echo dirs',
            labels=[{"team": "infra"}],
        ),
        env={"GREETING": "hi there", "NOMAD_JOB_NAME": "example"},
        memory_mb=64,
        memory_max_mb=128,
        cpu_mhz=300,
    )
    Path(cfg.task_dir, "..", "alloc").mkdir()
    cfg = cfg.replace(
        alloc_dir=str(Path(cfg.task_dir, "..", "alloc").resolve()),
        env={**cfg.env, "NOMAD_TASK_DIR": f"{cfg.task_dir}/local"},
    )
    handle = driver.start(cfg)
    assert driver.wait(handle, timeout=30) is not None
    assert read(cfg.stdout_path) == "hi there /local\ndirs\n"

    attrs = docker_engine.api.inspect_container(handle.state["container_id"])
    assert attrs["Name"] == f"/web-{cfg.alloc_id}"
    assert attrs["Config"]["Labels"] == {
        "team": "infra",
        "com.hashicorp.nomad.alloc_id": cfg.alloc_id,
        "com.hashicorp.nomad.job_id": "example",
        "com.hashicorp.nomad.job_name": "example",
        "com.hashicorp.nomad.task_group_name": "web",
        "com.hashicorp.nomad.task_name": "web",
        "com.hashicorp.nomad.namespace": "default",
    }
    host = attrs["HostConfig"]
    assert (host["Memory"], host["MemoryReservation"]) == (128 * MIB, 64 * MIB)
    assert host["MemorySwap"] == 128 * MIB
    assert host["CpuShares"] == 300
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "2", "max-size": "2m"}}


def test_exceeding_memory_is_reported_as_oom_killed(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    # `tail` of an endless line keeps it all in memory
    cfg = task_config(image_config(docker_image, "tail", "/dev/zero"), memory_mb=16)
    result = driver.wait(driver.start(cfg), timeout=60)
    assert result is not None
    assert result.oom_killed and result.exit_code == 137
    assert not result.successful()


def test_volumes_and_mounts(
    driver: DockerDriver,
    docker_engine: docker.DockerClient,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    script = (
        "cat /conf/app.conf; cat /ro/app.conf; cat /etc/app/app.conf;"
        " echo tmp > /scratch/f && grep -c scratch /proc/mounts;"
        " echo kept > /cache/f; echo nope > /ro/x 2>/dev/null || echo read-only"
    )
    cfg = task_config(
        image_config(
            docker_image,
            "sh",
            "-c",
            script,
            volumes=["local/conf:/conf", "local/conf:/ro:ro"],
            mount=[
                {"type": "bind", "source": "local/conf", "target": "/etc/app", "readonly": True},
                {"type": "tmpfs", "target": "/scratch", "tmpfs_options": [{"size": MIB}]},
                {"type": "volume", "source": "", "target": "/cache"},
            ],
        )
    )
    conf_dir = Path(cfg.task_dir) / "local" / "conf"
    conf_dir.mkdir()
    (conf_dir / "app.conf").write_text("port=80\n")
    handle = driver.start(cfg)
    result = driver.wait(handle, timeout=30)
    assert result is not None and result.successful(), read(cfg.stderr_path)
    assert read(cfg.stdout_path) == "port=80\nport=80\nport=80\n1\nread-only\n"
    mounts = docker_engine.api.inspect_container(handle.state["container_id"])["Mounts"]
    by_target = {m["Destination"]: m for m in mounts}
    assert by_target["/conf"]["Source"] == str(conf_dir) and by_target["/conf"]["RW"]
    assert not by_target["/ro"]["RW"]
    assert by_target["/etc/app"]["Type"] == "bind" and not by_target["/etc/app"]["RW"]
    assert by_target["/cache"]["Type"] == "volume"
    driver.destroy(handle)
    with pytest.raises(docker.errors.NotFound):  # anonymous: removed with the container
        docker_engine.volumes.get(by_target["/cache"]["Name"])


def test_host_network_serves_on_the_hosts_port(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig, eventually: Callable[..., Any]
) -> None:
    port = free_port()
    cfg = task_config(
        image_config(
            docker_image, "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www",
            network_mode="host",
        )
    )  # fmt: skip
    driver.start(cfg)
    assert "nomadtui test page" in eventually(lambda: http_get(f"http://127.0.0.1:{port}/"))


def test_unknown_config_key_fails_before_any_container(
    driver: DockerDriver,
    docker_engine: docker.DockerClient,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    before = len(ours(docker_engine))
    with pytest.raises(DriverError, match='argument named "colour"') as err:
        driver.start(task_config({"image": docker_image, "colour": "blue"}))
    assert not err.value.recoverable
    assert len(ours(docker_engine)) == before


@pytest.fixture
def local_tag(docker_engine: docker.DockerClient, docker_image: str) -> Iterator[str]:
    """The test image, also tagged under a registry that does not exist."""
    tag = "127.0.0.1:1/nomadtui-busybox:local"
    docker_engine.images.get(docker_image).tag(tag)
    yield tag
    docker_engine.images.remove(tag)


def test_force_pull_pulls_even_a_local_image(
    driver: DockerDriver, local_tag: str, task_config: MakeConfig
) -> None:
    cfg = task_config(image_config(local_tag, "true"))
    result = driver.wait(driver.start(cfg), timeout=30)  # local: no pull needed
    assert result is not None and result.successful()
    with pytest.raises(DriverError, match=f"^Failed to pull `{re.escape(local_tag)}`: ") as err:
        driver.start(task_config(image_config(local_tag, "true", force_pull=True)))
    assert err.value.recoverable


def test_auth_is_accepted_for_local_and_pulled_images(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    auth = [{"username": "u", "password": "p", "server_address": "127.0.0.1:1"}]
    cfg = task_config(image_config(docker_image, "true", auth=auth, auth_soft_fail=True))
    result = driver.wait(driver.start(cfg), timeout=30)
    assert result is not None and result.successful()
    with pytest.raises(DriverError, match=r"^Failed to pull `127\.0\.0\.1:1/private:1`: "):
        driver.start(task_config({"image": "127.0.0.1:1/private:1", "auth": auth}))


def test_load_imports_an_archive_from_the_local_dir(
    driver: DockerDriver,
    docker_engine: docker.DockerClient,
    docker_image: str,
    task_config: MakeConfig,
) -> None:
    tag = "nomadtui-test/loaded:1"
    image = docker_engine.images.get(docker_image)
    image.tag(tag)
    cfg = task_config(image_config(tag, "echo", "loaded", load="image.tar"))
    with (Path(cfg.task_dir) / "local" / "image.tar").open("wb") as f:
        for chunk in docker_engine.api.get_image(tag):
            f.write(chunk)
    docker_engine.images.remove(tag)
    try:
        result = driver.wait(driver.start(cfg), timeout=30)
        assert result is not None and result.successful()
        assert read(cfg.stdout_path) == "loaded\n"
    finally:
        docker_engine.images.remove(tag)  # only the tag: busybox:1 keeps the image
    missing = task_config(image_config(tag, "true", load="nope.tar"))
    with pytest.raises(DriverError, match="unable to open image archive"):
        driver.start(missing)


def test_tty_output_is_copied(
    driver: DockerDriver, docker_image: str, task_config: MakeConfig
) -> None:
    script = "echo one; echo two >&2; printf 'no newline'"
    cfg = task_config(image_config(docker_image, "sh", "-c", script, tty=True))
    result = driver.wait(driver.start(cfg), timeout=30)
    assert result is not None and result.successful()
    # a terminal merges the streams and ends lines with CRLF
    assert Path(cfg.stdout_path).read_bytes() == b"one\r\ntwo\r\nno newline"
    assert read(cfg.stderr_path) == ""
