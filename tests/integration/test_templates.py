"""Templates on a real dev agent (raw_exec, real HTTP): examples/template-upstreams.nomad
renders the allocation id and the backend's catalog entry into local/, an
`env = true` template reaches the task's environment, and a second backend
registering re-renders the file and restarts the frontend ("Restart
Signaled"). A Vault function fails the task naming it; a missing Nomad
variable holds the task back with a "Missing:" event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.client import template_hook
from controlplane.client.logs import read_logs
from controlplane.structs import to_builtins
from tests.waiting import wait_for

EXAMPLE = Path(__file__).parents[2] / "examples" / "template-upstreams.nomad"


@pytest.fixture(autouse=True)
def fast_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    # hooks created from now on poll the servers every 0.2 s (default 2 s)
    monkeypatch.setattr(template_hook, "POLL_S", 0.2)


def _register(api: httpx.Client, text: str, name: str, backends: int | None = None) -> None:
    job = jobspec.parse_job(text, name)
    if backends is not None:
        groups = [g.replace(count=backends) if g.name == "backend" else g for g in job.task_groups]
        job = job.replace(task_groups=groups)
    resp = api.put("/v1/jobs", json={"Job": to_builtins(job)})
    assert resp.status_code == 200, resp.text


def _alloc(api: httpx.Client, job_id: str, group: str, status: str) -> dict[str, Any] | None:
    for a in api.get(f"/v1/job/{job_id}/allocations").json():
        if a["TaskGroup"] == group and a["ClientStatus"] == status:
            full: dict[str, Any] = api.get(f"/v1/allocation/{a['ID']}").json()
            return full
    return None


def _events(api: httpx.Client, alloc_id: str, task: str) -> list[dict[str, Any]]:
    alloc = api.get(f"/v1/allocation/{alloc_id}").json()
    events: list[dict[str, Any]] = (alloc.get("TaskStates") or {}).get(task, {}).get("Events") or []
    return events


def _stdout(agent: Agent, alloc_id: str, task: str) -> str:
    assert agent.client is not None
    path = agent.client.task_log_path(alloc_id, task, "stdout")
    return read_logs(path).decode() if path.exists() else ""


def test_example_renders_and_restarts_on_a_new_backend(dev_agent: Agent, api: httpx.Client) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    _register(api, text, EXAMPLE.name)
    front = wait_for(
        lambda: _alloc(api, "template-upstreams", "frontend", "running"), 30, "frontend running"
    )
    fid = front["ID"]
    assert dev_agent.client is not None
    conf = dev_agent.client.alloc_dir(fid) / "frontend" / "local" / "upstreams.conf"

    # the backend registers around the frontend's start: either way one backend shows up
    wait_for(lambda: "start BACKENDS=1" in _stdout(dev_agent, fid, "frontend"), 30, "BACKENDS=1")
    rendered = conf.read_text()
    assert f"# rendered for {fid}\n" in rendered
    backend = api.get("/v1/service/template-backend").json()
    assert len(backend) == 1
    assert f"  server {backend[0]['Address']}:{backend[0]['Port']};\n" in rendered

    _register(api, text, EXAMPLE.name, backends=2)
    wait_for(lambda: "start BACKENDS=2" in _stdout(dev_agent, fid, "frontend"), 30, "BACKENDS=2")
    servers = [line for line in conf.read_text().splitlines() if "server " in line]
    registered = api.get("/v1/service/template-backend").json()
    assert sorted(servers) == sorted(f"  server {r['Address']}:{r['Port']};" for r in registered)
    assert len(servers) == 2
    restarts = [
        e
        for e in _events(api, fid, "frontend")
        if e["Type"] == "Restart Signaled"
        and e["DisplayMessage"] == "Template with change_mode restart re-rendered"
    ]
    assert restarts
    # the frontend was restarted in place, not replaced
    again = wait_for(
        lambda: _alloc(api, "template-upstreams", "frontend", "running"), 30, "running again"
    )
    assert again["ID"] == fid

    api.delete("/v1/job/template-upstreams", params={"purge": "true"})


JOB = """
job "{job_id}" {{
  datacenters = ["dc1"]
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "exec sleep 600"]
      }}
      template {{
        destination = "local/out"
        data        = <<-EOF
          {body}
        EOF
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"""


def test_vault_function_fails_the_task_naming_it(api: httpx.Client) -> None:
    body = 'password={{ with secret "kv/data/app" }}{{ .Data.data.pw }}{{ end }}'
    _register(api, JOB.format(job_id="tmpl-vault", body=body), "tmpl-vault.nomad")
    alloc = wait_for(lambda: _alloc(api, "tmpl-vault", "g", "failed"), 30, "alloc failed")
    failure = [e for e in _events(api, alloc["ID"], "t") if e["Type"] == "Setup Failure"]
    assert failure[0]["DisplayMessage"] == (
        'template: local/out:1:18: function "secret" is not supported '
        "(Vault is not available in nomadtui; use nomadVar for secrets)"
    )
    api.delete("/v1/job/tmpl-vault", params={"purge": "true"})


def test_missing_variable_holds_the_task_back(api: httpx.Client) -> None:
    body = '{{ with nomadVar "nomad/jobs/tmpl-var" }}{{ .password }}{{ end }}'
    _register(api, JOB.format(job_id="tmpl-var", body=body), "tmpl-var.nomad")
    alloc = wait_for(lambda: _alloc(api, "tmpl-var", "g", "pending"), 30, "alloc pending")

    def missing() -> list[dict[str, Any]]:
        return [e for e in _events(api, alloc["ID"], "t") if e["Type"] == "Template"]

    event = wait_for(missing, 30, "Missing event")[0]
    assert event["DisplayMessage"] == "Missing: nomad.var.block(nomad/jobs/tmpl-var@default.global)"
    assert not [e for e in _events(api, alloc["ID"], "t") if e["Type"] == "Started"]

    api.delete("/v1/job/tmpl-var", params={"purge": "true"})
    wait_for(
        lambda: any(e["Type"] == "Killed" for e in _events(api, alloc["ID"], "t")),
        30,
        "killed while waiting",
    )
