"""Test support for the executor-based drivers (raw_exec, exec, java).

`require_isolation` / `require_java` skip with the reason on a developer
machine that cannot run isolated tasks (not root, no cgroups) or has no JDK,
and fail (never skip) when `CI` is set. `start_in_killed_client` starts a task
from a separate client process and SIGKILLs that process, as a crashing
client would. `build_hello_jar` compiles a tiny Java program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import pytest

from controlplane.drivers.base import Driver, TaskConfig, TaskHandle
from controlplane.drivers.exec import isolation_unavailable

# Reads a TaskConfig on stdin, starts it with the named driver, prints the
# handle, then blocks until killed.
_CLIENT = """
import importlib, sys, msgspec
from controlplane.drivers.base import TaskConfig
module, cls = sys.argv[1].rsplit(":", 1)
driver = getattr(importlib.import_module(module), cls)()
cfg = msgspec.json.decode(sys.stdin.buffer.readline(), type=TaskConfig)
sys.stdout.buffer.write(msgspec.json.encode(driver.start(cfg)) + b"\\n")
sys.stdout.flush()
sys.stdin.buffer.read()
"""

HELLO_JAVA = """
public class Hello {
    public static void main(String[] args) {
        System.out.println("hello from java args=" + String.join(",", args)
            + " pid=" + ProcessHandle.current().pid());
    }
}
"""


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so isolated-driver tests must run, but {reason}", pytrace=False)
    pytest.skip(reason)
    raise AssertionError("unreachable")


def require_tool(name: str) -> str:
    """The path of command `name`; skip without it (fail when CI is set)."""
    path = shutil.which(name)
    if path is None:
        _unavailable(f"`{name}` is not installed")
    assert path is not None
    return path


def require_isolation() -> None:
    reason = isolation_unavailable()
    if reason:
        _unavailable(f"exec/java isolation: {reason}")


def require_java() -> None:
    missing = [tool for tool in ("java", "javac", "jar") if shutil.which(tool) is None]
    if missing:
        _unavailable(f"no JDK here: {', '.join(missing)} not found")


def build_hello_jar(directory: Path) -> Path:
    """`directory`/hello.jar (Main-Class: Hello); Hello.class stays beside it."""
    require_java()
    (directory / "Hello.java").write_text(textwrap.dedent(HELLO_JAVA))
    subprocess.run(["javac", "Hello.java"], cwd=directory, check=True, timeout=120)
    (directory / "manifest.txt").write_text("Main-Class: Hello\n")
    subprocess.run(
        ["jar", "cfm", "hello.jar", "manifest.txt", "Hello.class"],
        cwd=directory,
        check=True,
        timeout=120,
    )
    return directory / "hello.jar"


def start_in_killed_client(driver: str, cfg: TaskConfig) -> TaskHandle:
    """Start `cfg` with `driver` ("module:Class") in another process, then
    SIGKILL that process: the task's executor must live on without it."""
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, driver],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert client.stdin is not None and client.stdout is not None
    try:
        client.stdin.write(msgspec.json.encode(cfg) + b"\n")
        client.stdin.flush()
        line = client.stdout.readline()
    finally:
        client.kill()
        client.wait(10)
        client.stdin.close()
        client.stdout.close()
    assert line, "the client process did not start the task"
    return msgspec.json.decode(line, type=TaskHandle)


class StartedTasks(list[TaskHandle]):
    """Handles of the tasks a driver test started (by itself or through a
    killed client), recovered and destroyed at teardown."""

    def start(self, driver: Driver, cfg: TaskConfig) -> TaskHandle:
        handle = driver.start(cfg)
        self.append(handle)
        return handle

    def destroy_all(self, driver: Driver) -> None:
        for handle in self:
            driver.recover(handle)  # tasks of a killed client too
            driver.destroy(handle)
        self.clear()


def sh(script: str) -> dict[str, Any]:
    """A task config running `script` with /bin/sh."""
    return {"command": "/bin/sh", "args": ["-c", script]}


def read(path: str) -> str:
    """A log or marker file's text; empty while it does not exist."""
    return Path(path).read_text() if os.path.exists(path) else ""
