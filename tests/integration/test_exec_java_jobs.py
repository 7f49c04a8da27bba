"""exec and java jobs through the HTTP API of a real dev agent: an exec task
over its memory limit is OOM killed (and says so), a java task's output is
readable through the logs endpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane import jobspec
from controlplane.structs import to_builtins
from tests.executor_support import build_hello_jar, require_isolation, require_java
from tests.waiting import wait_for

OOM_JOB = """
job "exec-oom" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "hog" {
      driver = "exec"
      config {
        command = "%(python)s"
        args    = ["-c", "print('allocating', flush=True); b = b'x' * (200 * 1024 * 1024)"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
"""

JAVA_JOB = """
job "java-hello" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    task "hello" {
      driver = "java"
      config {
        jar_path    = "%(jar)s"
        jvm_options = ["-Xmx64m"]
        args        = ["${NOMAD_TASK_NAME}"]
      }
      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def hello_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hello_jar(tmp_path_factory.mktemp("java-job"))


def _register(api: httpx.Client, text: str) -> None:
    body = {"Job": to_builtins(jobspec.parse_job(text, "test.nomad"))}
    resp = api.put("/v1/jobs", json=body)
    assert resp.status_code == 200, resp.text


def _alloc(api: httpx.Client, job: str) -> dict[str, Any] | None:
    allocs = api.get(f"/v1/job/{job}/allocations").json()
    if not allocs:
        return None
    full: dict[str, Any] = api.get(f"/v1/allocation/{allocs[0]['ID']}").json()
    return full


def test_exec_task_over_its_memory_limit_is_oom_killed(api: httpx.Client) -> None:
    require_isolation()
    _register(api, OOM_JOB % {"python": sys.executable})

    def terminated() -> dict[str, Any] | None:
        alloc = _alloc(api, "exec-oom")
        state = ((alloc or {}).get("TaskStates") or {}).get("hog") or {}
        events = [e for e in state.get("Events") or [] if e["Type"] == "Terminated"]
        return events[-1] if events else None

    event = wait_for(terminated, timeout=30, what="the Terminated event")
    assert "OOM Killed" in event["DisplayMessage"]
    assert event["Signal"] == 9
    alloc = wait_for(
        lambda: (a := _alloc(api, "exec-oom")) and a["ClientStatus"] == "failed" and a,
        timeout=30,
        what="the allocation to fail",
    )
    assert alloc["TaskStates"]["hog"]["Failed"] is True


def test_java_job_output_is_in_its_logs(api: httpx.Client, hello_jar: Path) -> None:
    require_isolation()
    require_java()
    _register(api, JAVA_JOB % {"jar": hello_jar})

    alloc = wait_for(
        lambda: (a := _alloc(api, "java-hello")) and a["ClientStatus"] == "complete" and a,
        timeout=60,
        what="the java allocation to complete",
    )
    logs = api.get(
        f"/v1/client/fs/logs/{alloc['ID']}",
        params={"task": "hello", "type": "stdout", "plain": "true"},
    )
    assert logs.status_code == 200
    assert logs.text == "hello from java args=hello pid=2\n"
