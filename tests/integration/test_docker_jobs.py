"""Docker jobs end to end on a dev agent, through the HTTP API: published
ports (group `ports` and legacy `port_map`), Nomad's container labels, OOM
kills, and a node without Docker getting no docker work."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.client.agent import ClientAgent
from controlplane.client.config import ClientConfig
from controlplane.client.rpc_http import HTTPServerRPC
from controlplane.drivers.docker import DockerDriver
from controlplane.structs import to_builtins
from tests.waiting import wait_for

pytestmark = pytest.mark.docker

IMAGE = "nomadtui-test/busybox:1"

HTTPD_JOB = """
job "web" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {
        to = 80
      }
    }
    task "httpd" {
      driver = "docker"
      # httpd is PID 1 and ignores SIGTERM: do not wait long to kill it
      kill_timeout = "1s"
      config {
        image   = "nomadtui-test/busybox:1"
        command = "httpd"
        args    = ["-f", "-p", "80", "-h", "/www"]
        ports   = ["http"]
        labels {
          team = "web"
        }
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
"""

LEGACY_JOB = """
job "legacy" {
  datacenters = ["dc1"]
  group "web" {
    task "httpd" {
      driver = "docker"
      config {
        image   = "nomadtui-test/busybox:1"
        command = "httpd"
        args    = ["-f", "-p", "8080", "-h", "/www"]
        # docker-init as PID 1 passes SIGTERM on, so httpd stops at once
        init    = true
        port_map {
          http = 8080
        }
      }
      resources {
        cpu    = 100
        memory = 32
        network {
          port "http" {}
        }
      }
    }
  }
}
"""

OOM_JOB = """
job "hog" {
  datacenters = ["dc1"]
  type = "batch"
  group "hog" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "hog" {
      driver = "docker"
      config {
        image   = "nomadtui-test/busybox:1"
        command = "tail"
        args    = ["/dev/zero"]
      }
      resources {
        cpu    = 100
        memory = 16
      }
    }
  }
}
"""


def register(api: httpx.Client, text: str, **over: Any) -> dict[str, Any]:
    job = to_builtins(jobspec.parse_job(text, "job.nomad"))
    job.update(over)
    resp = api.put("/v1/jobs", json={"Job": job})
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def allocs(api: httpx.Client, job: str) -> list[dict[str, Any]]:
    resp = api.get(f"/v1/job/{job}/allocations")
    resp.raise_for_status()
    found: list[dict[str, Any]] = resp.json()
    return found


def running_alloc(api: httpx.Client, job: str) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        for a in allocs(api, job):
            if a["ClientStatus"] == "running":
                full: dict[str, Any] = api.get(f"/v1/allocation/{a['ID']}").json()
                return full
            assert a["ClientStatus"] == "pending", a["TaskStates"]
        return None

    found: dict[str, Any] = wait_for(running, what=f"a running allocation of {job}")
    return found


def http_get(url: str) -> str:
    try:
        return httpx.get(url, timeout=1).text
    except httpx.HTTPError:
        return ""


def stop(api: httpx.Client, job: str) -> None:
    """Stop the job, wait until its tasks are gone, then purge it."""
    api.delete(f"/v1/job/{job}").raise_for_status()
    wait_for(
        lambda: all(a["ClientStatus"] in ("complete", "failed") for a in allocs(api, job)),
        what=f"the allocations of {job} to stop",
    )
    api.delete(f"/v1/job/{job}", params={"purge": "true"}).raise_for_status()


@pytest.fixture(scope="module", autouse=True)
def needs_docker(docker_image: str) -> None:
    """Fail (CI) or skip (elsewhere) before the dev agent starts without Docker."""


def test_group_port_answers_http_and_labels_the_container(
    api: httpx.Client, docker_engine: docker.DockerClient
) -> None:
    register(api, HTTPD_JOB)
    alloc = running_alloc(api, "web")
    (port,) = alloc["AllocatedResources"]["Shared"]["Ports"]
    assert port["Label"] == "http" and port["To"] == 80 and port["HostIP"] == "127.0.0.1"

    body = wait_for(lambda: http_get(f"http://127.0.0.1:{port['Value']}/"), what="httpd")
    assert "nomadtui test page" in body

    (container,) = docker_engine.containers.list(
        filters={"label": f"com.hashicorp.nomad.alloc_id={alloc['ID']}"}
    )
    assert container.name == f"httpd-{alloc['ID']}"
    assert container.labels == {
        "team": "web",
        "com.hashicorp.nomad.alloc_id": alloc["ID"],
        "com.hashicorp.nomad.job_id": "web",
        "com.hashicorp.nomad.job_name": "web",
        "com.hashicorp.nomad.task_group_name": "web",
        "com.hashicorp.nomad.task_name": "httpd",
        "com.hashicorp.nomad.namespace": "default",
    }
    host = container.attrs["HostConfig"]
    assert host["Memory"] == 32 * 1024 * 1024 and host["CpuShares"] == 100
    assert host["PortBindings"]["80/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(port["Value"])}
    ]

    stop(api, "web")
    wait_for(
        lambda: not docker_engine.containers.list(all=True, filters={"id": container.id}),
        what="container removed",
    )


def test_legacy_port_map_answers_http(api: httpx.Client) -> None:
    register(api, LEGACY_JOB)
    alloc = running_alloc(api, "legacy")
    (net,) = alloc["AllocatedResources"]["Tasks"]["httpd"]["Networks"]
    (port,) = net["DynamicPorts"]
    body = wait_for(lambda: http_get(f"http://127.0.0.1:{port['Value']}/"), what="httpd")
    assert "nomadtui test page" in body
    stop(api, "legacy")


def test_container_over_its_memory_is_oom_killed(api: httpx.Client) -> None:
    register(api, OOM_JOB)

    def failed() -> dict[str, Any] | None:
        found = [a for a in allocs(api, "hog") if a["ClientStatus"] == "failed"]
        return found[0] if found else None

    alloc = wait_for(failed, timeout=60, what="the allocation to fail")
    events = alloc["TaskStates"]["hog"]["Events"]
    (terminated,) = [e for e in events if e["Type"] == "Terminated"]
    assert terminated["ExitCode"] == 137
    assert "OOM Killed" in terminated["DisplayMessage"]
    assert alloc["TaskStates"]["hog"]["Failed"] is True
    stop(api, "hog")


# The SDK leaks the socket of a failed connect; collect it inside this test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_node_without_docker_gets_no_docker_work(
    api: httpx.Client, dev_agent: Agent, tmp_path: Path
) -> None:
    no_engine = docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41")
    client = ClientAgent(
        ClientConfig(data_dir=tmp_path, node_name="no-docker", alloc_watch_wait_s=1.0),
        HTTPServerRPC([dev_agent.config.http_addr]),
        {"docker": DockerDriver(client=no_engine)},
    )
    client.start()
    try:
        assert client.wait_registered(20)
        node = api.get(f"/v1/node/{client.node_id}").json()
        assert node["Drivers"]["docker"]["Detected"] is False
        assert node["Drivers"]["docker"]["Healthy"] is False
        assert (
            node["Drivers"]["docker"]["HealthDescription"] == "Failed to connect to docker daemon"
        )
        assert "driver.docker" not in node["Attributes"]

        # only the node without docker may run it
        pinned = [{"LTarget": "${node.unique.name}", "Operand": "=", "RTarget": "no-docker"}]
        out = register(api, HTTPD_JOB, ID="pinned", Name="pinned", Constraints=pinned)
        ev = wait_for(
            lambda: (
                (e := api.get(f"/v1/evaluation/{out['EvalID']}").json())["Status"] == "complete"
                and e
            ),
            what="the evaluation",
        )
        metric = ev["FailedTGAllocs"]["web"]
        assert metric["ConstraintFiltered"] == {
            "missing drivers": 1,
            "${node.unique.name} = no-docker": 1,
        }
        assert metric["NodesEvaluated"] == 2 and metric["NodesFiltered"] == 2
        assert ev["BlockedEval"]
        blocked = api.get(f"/v1/evaluation/{ev['BlockedEval']}").json()
        assert blocked["Status"] == "blocked"
        assert allocs(api, "pinned") == []
        stop(api, "pinned")
    finally:
        client.shutdown(kill_tasks=False, timeout=5)
        no_engine.close()
        gc.collect()
