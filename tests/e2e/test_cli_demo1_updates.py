"""The seed's Demo 1 update sequence through the CLI: plan a count change (with its
diff and exit code), run with -check-index (stale and current), then roll a new
image one allocation at a time to version 2."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.agents import AgentProcess
from tests.e2e.test_cli_demo1 import CLI
from tests.waiting import wait_for

JOB = """job "example" {
  datacenters = ["dc1"]

  update {
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "1m"
    progress_deadline = "3m"
  }

  group "cache" {
    count = %(count)d

    network {
      port "http" {
        to = 8080
      }
    }

    task "web" {
      driver = "docker"

      config {
        image   = "%(image)s"
        command = "httpd"
        args    = ["-f", "-p", "8080", "-h", "/www"]
        ports   = ["http"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    tmp = tmp_path_factory.mktemp("e2e-updates")
    proc = AgentProcess(
        ["-dev", "-data-dir", str(tmp / "data")], tmp / "agent.log", ready=AgentProcess.dev_ready
    ).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def second_image(docker_engine: docker.DockerClient, docker_image: str) -> str:
    """A second tag of the local image: an "upgrade" without any registry."""
    tag = "nomadtui-test/busybox:2"
    docker_engine.images.get(docker_image).tag("nomadtui-test/busybox", "2")
    return tag


def _write(path: Path, count: int, image: str) -> None:
    path.write_text(JOB % {"count": count, "image": image})


def _api(agent: AgentProcess, path: str) -> Any:
    return httpx.get(f"{agent.address}{path}", timeout=10).json()


def _deployment_done(agent: AgentProcess, version: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        d = _api(agent, "/v1/job/example/deployment")
        return d if d and d["JobVersion"] == version and d["Status"] == "successful" else None

    result: dict[str, Any] = wait_for(done, timeout=120, what=f"v{version} deployed")
    return result


def test_plan_check_index_and_rolling_image_update(
    agent: AgentProcess, tmp_path: Path, docker_image: str, second_image: str
) -> None:
    cli = CLI(agent.address, tmp_path)
    job_file = tmp_path / "example.nomad"
    _write(job_file, 1, docker_image)
    cli.run("job", "run", str(job_file))
    _deployment_done(agent, 0)

    _write(job_file, 3, docker_image)
    plan = cli.run("job", "plan", str(job_file), check=False)
    assert plan.returncode == 1, plan.stdout + plan.stderr
    lines = plan.stdout.splitlines()
    assert lines[0] == '+/- Job: "example"'
    assert lines[1] == '+/- Task Group: "cache" (2 create, 1 in-place update)'
    assert lines[2] == '  +/- Count: "1" => "3" (forces create)'
    assert '      Task: "web"' in lines
    assert "Scheduler dry-run:" in lines
    assert "- All tasks successfully allocated." in lines
    match = re.search(r"^Job Modify Index: (\d+)$", plan.stdout, re.M)
    assert match, plan.stdout
    index = int(match.group(1))
    assert f"nomadtui job run -check-index {index} {job_file}" in plan.stdout
    # a plan changes nothing
    assert _api(agent, "/v1/job/example")["Version"] == 0

    stale = cli.run("job", "run", "-check-index", str(index + 1), str(job_file), check=False)
    assert stale.returncode == 1
    assert (
        f"Enforcing job modify index {index + 1}: job exists with conflicting job modify "
        f"index: {index}" in stale.stderr + stale.stdout
    )
    assert "Job not updated" in stale.stderr + stale.stdout
    assert _api(agent, "/v1/job/example")["Version"] == 0

    cli.run("job", "run", "-check-index", str(index), str(job_file))
    _deployment_done(agent, 1)
    running = [a for a in _api(agent, "/v1/job/example/allocations")
               if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
    assert sorted(a["JobVersion"] for a in running) == [1, 1, 1]

    _write(job_file, 3, second_image)
    cli.run("job", "run", str(job_file))
    _deployment_done(agent, 2)
    new = sorted(
        (a for a in _api(agent, "/v1/job/example/allocations") if a["JobVersion"] == 2),
        key=lambda a: a["CreateTime"],
    )
    assert len(new) == 3 and all(a["ClientStatus"] == "running" for a in new)
    for earlier, later in pairwise(new):
        healthy_at = datetime.fromisoformat(
            earlier["DeploymentStatus"]["Timestamp"].replace("Z", "+00:00")).timestamp()
        assert later["CreateTime"] / 1e9 >= healthy_at - 0.01, "two replaced at once"

    status = cli.run("status", "example").stdout
    assert "Latest Deployment" in status
    assert re.search(r"^Status\s+= successful$", status, re.M)
    rows = [line.split() for line in status[status.index("Allocations"):].splitlines()[2:]]
    live = [r for r in rows if r[4:6] == ["run", "running"]]
    assert [r[3] for r in live] == ["2", "2", "2"]
    cli.run("job", "stop", "-purge", "example")
