"""Helpers shared by the docker driver tests (real engine, local busybox image)."""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker

from controlplane.drivers.docker import LABEL_ALLOC_ID, DockerDriver, DockerOptions


def ours(client: docker.DockerClient) -> list[Any]:
    """Every container a driver made (Nomad's alloc_id label marks them)."""
    return list(client.containers.list(all=True, filters={"label": LABEL_ALLOC_ID}))


@contextlib.contextmanager
def tracked_driver(
    engine: docker.DockerClient, options: DockerOptions | None = None
) -> Iterator[DockerDriver]:
    """A DockerDriver whose containers are all removed afterwards."""
    before = {c.id for c in ours(engine)}
    drv = DockerDriver(options=options)
    try:
        yield drv
    finally:
        drv.close()
        for container in ours(engine):
            if container.id not in before:
                container.remove(force=True)


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
