"""Helpers for namespace tests: a raw_exec job in a namespace, namespace
upserts and running allocations over the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from controlplane import jobspec
from controlplane.structs import to_builtins


def job_body(
    job_id: str, namespace: str = "", script: str = "echo hi-$NOMAD_NAMESPACE; exec sleep 600"
) -> dict[str, Any]:
    ns_line = f'namespace = "{namespace}"' if namespace else ""
    text = f"""
job "{job_id}" {{
  {ns_line}
  datacenters = ["dc1"]
  group "app" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"""
    return {"Job": to_builtins(jobspec.parse_job(text, f"{job_id}.nomad"))}


def put_namespace(api: httpx.Client, name: str, **fields: Any) -> httpx.Response:
    return api.put(f"/v1/namespace/{name}", json={"Name": name, **fields})


def running_allocs(api: httpx.Client, job_id: str, ns: str) -> list[dict[str, Any]]:
    resp = api.get(f"/v1/job/{job_id}/allocations", params={"namespace": ns})
    resp.raise_for_status()
    return [a for a in resp.json() if a["ClientStatus"] == "running"]
