"""A job whose template renders a Nomad variable, and the check that it renders
and re-renders (restarting the task) as the variable changes: shared by the
variables tests with ACLs off and on."""

from __future__ import annotations

from typing import Any

import httpx

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.client.logs import read_logs
from controlplane.structs import to_builtins
from tests.waiting import wait_for

TEMPLATE_JOB = """
job "web" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 5
      mode     = "fail"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo \\"start greeting=$(cat $NOMAD_TASK_DIR/out)\\"; exec sleep 600"]
      }
      template {
        data        = "{{ with nomadVar \\"nomad/jobs/web\\" }}{{ .greeting }}{{ end }}"
        destination = "local/out"
        change_mode = "restart"
        splay       = "0s"
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


def _stdout(agent: Agent, alloc_id: str) -> str:
    assert agent.client is not None
    path = agent.client.task_log_path(alloc_id, "t", "stdout")
    return read_logs(path).decode() if path.exists() else ""


def _running_alloc(api: httpx.Client, job_id: str) -> dict[str, Any] | None:
    for a in api.get(f"/v1/job/{job_id}/allocations").json():
        if a["ClientStatus"] == "running":
            return dict(a)
    return None


def run_template_job(agent: Agent, api: httpx.Client, headers: dict[str, str]) -> None:
    """The template renders once the variable exists, and a change restarts
    the task with the new value (shared with the ACL variant)."""
    job = to_builtins(jobspec.parse_job(TEMPLATE_JOB, "web.nomad"))
    resp = api.put("/v1/jobs", json={"Job": job}, headers=headers)
    assert resp.status_code == 200, resp.text
    pending = wait_for(lambda: api.get("/v1/job/web/allocations", headers=headers).json(), 30)
    alloc_id = pending[0]["ID"]
    put = api.put("/v1/var/nomad/jobs/web", json={"Items": {"greeting": "hello"}}, headers=headers)
    assert put.status_code == 200, put.text
    wait_for(lambda: "start greeting=hello" in _stdout(agent, alloc_id), 30, "first render")

    put = api.put(
        "/v1/var/nomad/jobs/web", json={"Items": {"greeting": "bonjour"}}, headers=headers
    )
    assert put.status_code == 200, put.text
    wait_for(lambda: "start greeting=bonjour" in _stdout(agent, alloc_id), 30, "re-render")

    def restarted() -> bool:
        alloc = api.get(f"/v1/allocation/{alloc_id}", headers=headers).json()
        return any(
            e["Type"] == "Restart Signaled"
            and e["DisplayMessage"] == "Template with change_mode restart re-rendered"
            for e in alloc["TaskStates"]["t"]["Events"]
        )

    # the client reports task events in batches: wait for the servers to hear
    wait_for(restarted, 30, "a Restart Signaled event")
    api.delete("/v1/job/web", params={"purge": "true"}, headers=headers)
    api.delete("/v1/var/nomad/jobs/web", headers=headers)
