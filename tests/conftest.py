"""Session-wide gates for tests that need the local Docker engine.

`docker_engine` / `docker_image` skip with the reason on a developer machine
without an engine, and fail (never skip) when `CI` is set: there, a missing
engine means `scripts/test-deps.sh` did not do its job.
"""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator
from typing import NoReturn

import docker
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
