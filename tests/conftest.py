"""Session-wide gates for tests that need the local Docker engine, and the
reaper of tasks that outlive their agents.

`docker_engine` / `docker_image` skip with the reason on a developer machine
without an engine, and fail (never skip) when `CI` is set: there, a missing
engine means `scripts/test-deps.sh` did not do its job.

Tasks are built to survive their client (executors run in their own
session; containers belong to the engine), so a test that SIGKILLs an agent
leaves its tasks behind. At the end of the session every process whose
command line and every container whose mounts name this session's temporary
directory are removed, so no busy task outlives the run.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import warnings
from collections.abc import Iterator
from typing import NoReturn

import docker
import psutil
import pytest

TEST_IMAGE = "nomadtui-test/busybox:1"
_HINT = "run `sudo scripts/test-deps.sh` to start dockerd and build the image"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so docker tests must run, but {reason}; {_HINT}", pytrace=False)
    pytest.skip(f"{reason}; {_HINT}")
    raise AssertionError("unreachable")


def _connect() -> tuple[docker.DockerClient | None, str]:
    # The SDK leaks the socket of a failed connect; drop it quietly here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.DockerClient.from_env()
            client.ping()
            return client, ""
        except Exception as e:  # any failure means "no engine here"
            reason = str(e)
        gc.collect()
    return None, reason


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.DockerClient]:
    """A client of the local Docker engine."""
    client, reason = _connect()
    if client is None:
        _unavailable(f"the Docker engine is unreachable ({reason})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_image(docker_engine: docker.DockerClient) -> str:
    """The local test image (never pulled: no registry is reachable)."""
    try:
        docker_engine.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"image {TEST_IMAGE} is not built")
    return TEST_IMAGE


@pytest.fixture(scope="session", autouse=True)
def reap_orphaned_tasks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    base = str(tmp_path_factory.getbasetemp())
    # pytest itself and whatever started it (`timeout ... --basetemp=DIR`)
    # name the base dir too: never reap the run's own process tree
    me = psutil.Process()
    spared = {me.pid, *(p.pid for p in me.parents())}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] not in spared and base in " ".join(proc.info["cmdline"] or ()):
            # the executor leads no group; its task leads its own
            for p in [*proc.children(recursive=True), proc]:
                with contextlib.suppress(psutil.Error, OSError):
                    if os.getpgid(p.pid) == p.pid:
                        os.killpg(p.pid, signal.SIGKILL)
                    else:
                        p.kill()
    client, _ = _connect()
    if client is None:
        return
    try:
        for container in client.containers.list(all=True):
            sources = [m.get("Source", "") for m in container.attrs.get("Mounts", [])]
            if any(src.startswith(base) for src in sources):
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
    finally:
        client.close()
