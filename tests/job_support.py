"""Jobs for integration tests: raw_exec job bodies (JSON, or parsed from a
jobspec as `nomadtui job run` would send it) and reading a job's allocations
back. Group "g"/"app" and task "t" are the names tests assert on."""

from __future__ import annotations

from typing import Any

import httpx

from controlplane import jobspec
from controlplane.structs import to_builtins
from tests.waiting import wait_for


def raw_exec_job(
    job_id: str,
    script: str | None = None,
    *,
    count: int = 1,
    job_type: str = "",
    resources: tuple[int, int] | None = None,
    task: dict[str, Any] | None = None,
    **job: Any,
) -> dict[str, Any]:
    """A `PUT /v1/jobs` body: one group "g" of `count` raw_exec task "t" that
    runs `/bin/sh -c script` (`/bin/true` without one). `resources` is
    (CPU MHz, MemoryMB); `task` adds task fields, `job` adds job fields."""
    config: dict[str, Any] = {"command": "/bin/true"}
    if script is not None:
        config = {"command": "/bin/sh", "args": ["-c", script]}
    t: dict[str, Any] = {"Name": "t", "Driver": "raw_exec", "Config": config, **(task or {})}
    if resources is not None:
        t["Resources"] = {"CPU": resources[0], "MemoryMB": resources[1]}
    body: dict[str, Any] = {"ID": job_id, **({"Type": job_type} if job_type else {}), **job}
    body["TaskGroups"] = [{"Name": "g", "Count": count, "Tasks": [t]}]
    return {"Job": body}


def hcl_job(
    job_id: str,
    script: str = "exec sleep 600",
    *,
    namespace: str = "",
    count: int = 1,
    cpu: int = 20,
    memory: int = 16,
    group: str = "",
) -> dict[str, Any]:
    """A `PUT /v1/jobs` body parsed from a jobspec: group "app" of `count`
    raw_exec task "t" running `/bin/sh -c script`; `group` is extra HCL
    inside the group (a service block, say)."""
    ns_line = f'namespace = "{namespace}"' if namespace else ""
    text = f"""
job "{job_id}" {{
  {ns_line}
  datacenters = ["dc1"]
  group "app" {{
    count = {count}
    {group}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      resources {{
        cpu    = {cpu}
        memory = {memory}
      }}
    }}
  }}
}}
"""
    return {"Job": to_builtins(jobspec.parse_job(text, f"{job_id}.nomad"))}


def allocations(
    api: httpx.Client, job_id: str, namespace: str | None = None
) -> list[dict[str, Any]]:
    params = {"namespace": namespace} if namespace is not None else None
    resp = api.get(f"/v1/job/{job_id}/allocations", params=params)
    resp.raise_for_status()
    out: list[dict[str, Any]] = resp.json()
    return out


def running_allocs(
    api: httpx.Client, job_id: str, namespace: str | None = None
) -> list[dict[str, Any]]:
    return [a for a in allocations(api, job_id, namespace) if a["ClientStatus"] == "running"]


def run_until_running(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """Register `body` and wait for one of its allocations to run; that one."""
    resp = api.put("/v1/jobs", json=body)
    assert resp.status_code == 200, resp.text
    job_id = body["Job"]["ID"]
    alloc: dict[str, Any] = wait_for(
        lambda: next(iter(running_allocs(api, job_id)), None), what=f"{job_id} running"
    )
    return alloc
