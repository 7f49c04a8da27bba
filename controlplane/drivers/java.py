"""java driver: runs a jar (`jar_path`) or a main class (`class` with
`class_path`) on the host's JVM, with `jvm_options` and `args`, under the same
isolation as exec (cgroup, PID namespace, private /proc). Owns the java
command line and the JVM fingerprint (`java -version`); everything else is the
executor's.

The cgroup memory limit applies to the whole JVM; a JVM needs well over a few
MB, so give java tasks e.g. `memory = 256`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading

from controlplane.drivers.base import DriverError, Fingerprint, TaskConfig
from controlplane.drivers.exec import isolation_unavailable
from controlplane.drivers.executor_driver import ExecutorDriver
from controlplane.drivers.task_command import resolve_command, string_list

_VERSION_TIMEOUT_S = 30.0
_VERSION_RE = re.compile(r'version "([^"]+)"')


def parse_java_version(output: str) -> dict[str, str]:
    """Node attributes from `java -version` output (it prints to stderr):

    openjdk version "17.0.15" 2025-04-15
    OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
    OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    match = _VERSION_RE.search(output)
    attrs = {"driver.java": "1", "driver.java.version": match.group(1) if match else ""}
    # JVMs print other lines first (e.g. "Picked up JAVA_TOOL_OPTIONS: ...")
    runtime = next((line for line in lines if "Runtime Environment" in line), "")
    vm = next((line for line in lines if " VM " in f" {line} "), "")
    attrs["driver.java.runtime"] = runtime
    attrs["driver.java.vm"] = vm
    return attrs


class JavaDriver(ExecutorDriver):
    """JVM tasks, isolated like exec. `java` is the binary the fingerprint
    probes; tasks find `java` on their own PATH."""

    name = "java"
    isolated = True

    def __init__(self, java: str = "java") -> None:
        super().__init__()
        self._java = java
        self._probe_lock = threading.Lock()
        self._probed: tuple[str, dict[str, str]] | None = None  # (error, attributes)

    def fingerprint(self) -> Fingerprint:
        error, attrs = self._probe()
        if error:
            return Fingerprint(health_description=error)
        reason = isolation_unavailable()
        if reason:
            return Fingerprint(health_description=f"java driver {reason}")
        return Fingerprint(
            detected=True, healthy=True, health_description="Healthy", attributes=attrs
        )

    def command(self, cfg: TaskConfig, env: dict[str, str]) -> list[str]:
        java = resolve_command("java", cfg.task_dir, env)
        jar = str(cfg.config.get("jar_path") or "")
        main_class = str(cfg.config.get("class") or "")
        if not jar and not main_class:
            raise DriverError("java: the task config needs `jar_path` or `class`", False)
        argv = [java, *string_list(cfg, "jvm_options")]
        class_path = str(cfg.config.get("class_path") or "")
        if class_path:
            argv += ["-cp", class_path]
        if jar:
            path = jar if os.path.isabs(jar) else os.path.join(cfg.task_dir, jar)
            if not os.path.isfile(path):
                raise DriverError(f'java: jar "{jar}" not found', recoverable=False)
            argv += ["-jar", path]
        else:
            argv.append(main_class)
        return argv + string_list(cfg, "args")

    def _probe(self) -> tuple[str, dict[str, str]]:
        """("", attributes) of the JVM, or (why not, {}); the JVM does not change
        under a running client, so it is probed once (java -version takes ~0.1s)."""
        with self._probe_lock:
            if self._probed is None:
                self._probed = _java_version(self._java)
            return self._probed


def _java_version(java: str) -> tuple[str, dict[str, str]]:
    path = shutil.which(java)
    if path is None:
        return f"java binary {java!r} not found", {}
    try:
        out = subprocess.run(
            [path, "-version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"java -version failed: {e}", {}
    attrs = parse_java_version(out.stderr + out.stdout)
    if out.returncode != 0 or not attrs["driver.java.version"]:
        return f"java -version failed: {(out.stderr or out.stdout).strip()[:200]}", {}
    return "", attrs
