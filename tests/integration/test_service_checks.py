"""Services and checks on a real dev agent: a raw_exec `python -m
http.server` registers in the catalog (`GET /v1/service/<name>`), its http
check turns passing, then critical when the checked page disappears;
check_restart restarts a task whose script check fails; a deployment with
`health_check = "checks"` waits for passing checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.structs import to_builtins
from tests.waiting import wait_for

PY = sys.executable


def _register(api: httpx.Client, job_id: str, group_body: str) -> None:
    text = f"""
job "{job_id}" {{
  datacenters = ["dc1"]
  group "g" {{
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    {group_body}
  }}
}}
"""
    job = to_builtins(jobspec.parse_job(text, f"{job_id}.nomad"))
    resp = api.put("/v1/jobs", json={"Job": job})
    assert resp.status_code == 200, resp.text


def _web_task(extra: str = "") -> str:
    # serves its own local/ dir; the test adds and removes the checked page
    script = (
        "echo ok > local/ok.html; "
        f"exec {PY} -m http.server $NOMAD_PORT_http --bind 127.0.0.1 --directory local"
    )
    return f"""
    network {{
      port "http" {{}}
    }}
    task "web" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      resources {{
        cpu    = 50
        memory = 64
      }}
      {extra}
    }}"""


def _service(check: str, name: str = "${NOMAD_JOB_NAME}-web") -> str:
    return f"""
    service {{
      name     = "{name}"
      port     = "http"
      provider = "nomad"
      tags     = ["urlprefix-/"]
      {check}
    }}"""


HTTP_CHECK = """
      check {
        type     = "http"
        path     = "/ok.html"
        interval = "100ms"
        timeout  = "1s"
      }"""


def _only_alloc(api: httpx.Client, job_id: str) -> dict[str, Any] | None:
    allocs = api.get(f"/v1/job/{job_id}/allocations").json()
    if len(allocs) != 1 or allocs[0]["ClientStatus"] != "running":
        return None
    full: dict[str, Any] = api.get(f"/v1/allocation/{allocs[0]['ID']}").json()
    return full


def _instances(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    resp = api.get(f"/v1/service/{name}")
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()
    return found


def _page(agent: Agent, alloc_id: str) -> Path:
    assert agent.client is not None
    return agent.client.alloc_dir(alloc_id) / "web" / "local" / "ok.html"


def test_http_check_passing_then_critical_then_deregistered(
    dev_agent: Agent, api: httpx.Client
) -> None:
    _register(api, "svcweb", _service(HTTP_CHECK) + _web_task())
    alloc = wait_for(lambda: _only_alloc(api, "svcweb"), 30, "svcweb running")

    def health(want: str) -> dict[str, Any] | None:
        regs = _instances(api, "svcweb-web")
        return regs[0] if len(regs) == 1 and regs[0].get("Health") == want else None

    reg = wait_for(lambda: health("passing"), 20, "check passing in the catalog")
    port = next(p["Value"] for p in alloc["AllocatedResources"]["Shared"]["Ports"])
    assert (reg["Address"], reg["Port"], reg["AllocID"]) == ("127.0.0.1", port, alloc["ID"])
    assert reg["Tags"] == ["urlprefix-/"]
    assert httpx.get(f"http://127.0.0.1:{port}/ok.html").text.strip() == "ok"

    _page(dev_agent, alloc["ID"]).unlink()
    reg = wait_for(lambda: health("critical"), 20, "check critical in the catalog")
    assert "404" in reg["Checks"][0]["Output"]

    api.delete("/v1/job/svcweb", params={"purge": "true"})
    wait_for(lambda: not _instances(api, "svcweb-web"), 20, "deregistered after stop")


def test_check_restart_restarts_failing_task(dev_agent: Agent, api: httpx.Client) -> None:
    check = """
      check {
        name     = "page"
        type     = "script"
        command  = "/bin/sh"
        args     = ["-c", "test -f ok.html"]
        interval = "100ms"
        timeout  = "1s"
        check_restart {
          limit = 2
          grace = "200ms"
        }
      }"""
    service = f"""
      service {{
        name     = "svcrestart"
        port     = "http"
        provider = "nomad"
        {check}
      }}"""
    # the script runs in the task's directory, where ok.html does not live
    _register(api, "svcrestart", _web_task(service))

    def restarted() -> dict[str, Any] | None:
        a = _only_alloc(api, "svcrestart")
        st = ((a or {}).get("TaskStates") or {}).get("web")
        return st if st and st["Restarts"] >= 1 else None

    state = wait_for(restarted, 30, "check_restart to restart the task")
    reasons = [e["RestartReason"] for e in state["Events"] if e["Type"] == "Restart Signaled"]
    assert reasons[0] == 'healthcheck: check "page" unhealthy'
    api.delete("/v1/job/svcrestart", params={"purge": "true"})


def test_deployment_waits_for_passing_checks(dev_agent: Agent, api: httpx.Client) -> None:
    update = """
    update {
      health_check     = "checks"
      min_healthy_time = "200ms"
      healthy_deadline = "1m"
    }"""
    check = HTTP_CHECK.replace("/ok.html", "/ready.html")
    _register(api, "svcdeploy", update + _service(check) + _web_task())
    alloc = wait_for(lambda: _only_alloc(api, "svcdeploy"), 30, "svcdeploy running")
    regs = wait_for(
        lambda: [r for r in _instances(api, "svcdeploy-web") if r.get("Health") == "critical"],
        20,
        "check critical",
    )
    assert regs
    # the check keeps failing for many intervals past min_healthy_time
    ready = _page(dev_agent, alloc["ID"]).with_name("ready.html")
    log = _page(dev_agent, alloc["ID"]).parents[2] / "alloc" / "logs" / "web.stderr.0"

    def failed_requests() -> int:
        return sum("ready.html" in line for line in log.read_text().splitlines())

    wait_for(lambda: failed_requests() >= 10, 20, "ten failed check requests")
    again = api.get(f"/v1/allocation/{alloc['ID']}").json()
    assert (again.get("DeploymentStatus") or {}).get("Healthy") is None
    ready.write_text("ready\n")

    def healthy() -> bool:
        a = api.get(f"/v1/allocation/{alloc['ID']}").json()
        return (a.get("DeploymentStatus") or {}).get("Healthy") is True

    wait_for(healthy, 20, "alloc healthy once the check passes")
    api.delete("/v1/job/svcdeploy", params={"purge": "true"})
