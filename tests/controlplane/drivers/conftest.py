"""Fixtures shared by the driver tests: condition polling and a task config factory."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from controlplane.drivers.base import TaskConfig

T = TypeVar("T")


def _eventually(fn: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `fn` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    return _eventually


@pytest.fixture
def task_config(tmp_path: Path) -> Callable[..., TaskConfig]:
    """`task_config(config={...}, **fields)`: a TaskConfig with its own task
    dir and log files under tmp_path and a unique alloc id."""

    def make(config: dict[str, Any] | None = None, **fields: Any) -> TaskConfig:
        alloc_id = str(uuid.uuid4())
        task_dir = tmp_path / alloc_id / "web"
        (task_dir / "local").mkdir(parents=True)
        logs = tmp_path / alloc_id / "alloc" / "logs"
        defaults: dict[str, Any] = {
            "alloc_id": alloc_id,
            "task_name": "web",
            "job_id": "example",
            "task_group": "web",
            "config": config or {},
            "task_dir": str(task_dir),
            "stdout_path": str(logs / "web.stdout.0"),
            "stderr_path": str(logs / "web.stderr.0"),
        }
        defaults.update(fields)
        return TaskConfig(**defaults)

    return make
