"""Helpers for namespace tests: a raw_exec job in a namespace whose task
prints the namespace it runs in, and namespace upserts over the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.job_support import hcl_job


def job_body(
    job_id: str, namespace: str = "", script: str = "echo hi-$NOMAD_NAMESPACE; exec sleep 600"
) -> dict[str, Any]:
    return hcl_job(job_id, script, namespace=namespace)


def put_namespace(api: httpx.Client, name: str, **fields: Any) -> httpx.Response:
    return api.put(f"/v1/namespace/{name}", json={"Name": name, **fields})
