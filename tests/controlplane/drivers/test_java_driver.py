"""java driver against the host's JDK: jar and class tasks under exec's
isolation, the JVM fingerprint, config errors."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controlplane.drivers.base import DriverError, TaskConfig, TaskHandle
from controlplane.drivers.java import JavaDriver, parse_java_version
from tests.executor_support import build_hello_jar, require_isolation, require_java

MakeConfig = Callable[..., TaskConfig]

OPENJDK_17 = """openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)
"""


@pytest.fixture(scope="module")
def hello_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hello_jar(tmp_path_factory.mktemp("java"))


@pytest.fixture
def driver() -> Iterator[JavaDriver]:
    require_isolation()
    require_java()
    drv = JavaDriver()
    yield drv
    for handle in _started:
        drv.destroy(handle)
    _started.clear()


_started: list[TaskHandle] = []


def start(driver: JavaDriver, cfg: TaskConfig) -> TaskHandle:
    handle = driver.start(cfg)
    _started.append(handle)
    return handle


def read(path: str) -> str:
    return Path(path).read_text() if os.path.exists(path) else ""


def test_jar_task_prints_to_its_stdout_log(
    driver: JavaDriver, task_config: MakeConfig, hello_jar: Path
) -> None:
    cfg = task_config(
        {"jar_path": str(hello_jar), "args": ["a", "b c"], "jvm_options": ["-Xmx64m"]},
        memory_mb=256,
    )
    result = driver.wait(start(driver, cfg), timeout=60)
    assert result is not None and result.successful(), read(cfg.stderr_path)
    # pid 2: the JVM runs isolated, right under the namespace's init
    assert read(cfg.stdout_path) == "hello from java args=a,b c pid=2\n"


def test_relative_jar_path_is_taken_from_the_task_dir(
    driver: JavaDriver, task_config: MakeConfig, hello_jar: Path
) -> None:
    cfg = task_config({"jar_path": "local/hello.jar"}, memory_mb=256)
    (Path(cfg.task_dir) / "local" / "hello.jar").write_bytes(hello_jar.read_bytes())
    result = driver.wait(start(driver, cfg), timeout=60)
    assert result is not None and result.successful(), read(cfg.stderr_path)
    assert read(cfg.stdout_path).startswith("hello from java args=")


def test_class_and_class_path(driver: JavaDriver, task_config: MakeConfig, hello_jar: Path) -> None:
    cfg = task_config(
        {"class": "Hello", "class_path": str(hello_jar.parent), "args": ["x"]}, memory_mb=256
    )
    result = driver.wait(start(driver, cfg), timeout=60)
    assert result is not None and result.successful(), read(cfg.stderr_path)
    assert read(cfg.stdout_path) == "hello from java args=x pid=2\n"


def test_config_errors(driver: JavaDriver, task_config: MakeConfig) -> None:
    with pytest.raises(DriverError, match="needs `jar_path` or `class`") as missing:
        driver.start(task_config({}))
    assert not missing.value.recoverable
    with pytest.raises(DriverError, match=re.escape('jar "local/nope.jar" not found')):
        driver.start(task_config({"jar_path": "local/nope.jar"}))


def test_fingerprint_reports_the_jvm() -> None:
    require_isolation()
    require_java()
    fp = JavaDriver().fingerprint()
    assert fp.detected and fp.healthy
    attrs = fp.attributes
    assert attrs["driver.java"] == "1"
    assert re.fullmatch(r"\d+(\.\d+)*([._+-]\w+)*", attrs["driver.java.version"])
    assert "Runtime Environment" in attrs["driver.java.runtime"]
    assert " VM " in attrs["driver.java.vm"]


def test_no_java_binary_is_undetected() -> None:
    fp = JavaDriver(java="/nonexistent/bin/java").fingerprint()
    assert not fp.detected and not fp.healthy
    assert fp.health_description == "java binary '/nonexistent/bin/java' not found"
    assert fp.attributes == {}


def test_parse_java_version_output() -> None:
    assert parse_java_version(OPENJDK_17) == {
        "driver.java": "1",
        "driver.java.version": "17.0.15",
        "driver.java.runtime": "OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)",
        "driver.java.vm": (
            "OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)"
        ),
    }
    legacy = "Picked up JAVA_TOOL_OPTIONS: -Xss1m\n" + (
        'java version "1.8.0_292"\n'
        "Java(TM) SE Runtime Environment (build 1.8.0_292-b10)\n"
        "Java HotSpot(TM) 64-Bit Server VM (build 25.292-b10, mixed mode)\n"
    )
    attrs = parse_java_version(legacy)
    assert attrs["driver.java.version"] == "1.8.0_292"
    assert attrs["driver.java.runtime"] == "Java(TM) SE Runtime Environment (build 1.8.0_292-b10)"
    assert attrs["driver.java.vm"].startswith("Java HotSpot(TM) 64-Bit Server VM")
