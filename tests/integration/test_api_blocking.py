"""Blocking queries on a real dev agent answer on a change to their own table only."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.waiting import wait_for


def _job(job_id: str, count: int) -> dict[str, Any]:
    task = {
        "Name": "t",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/sleep", "args": ["600"]},
        "Resources": {"CPU": 20, "MemoryMB": 16},
    }
    return {"Job": {"ID": job_id, "TaskGroups": [{"Name": "g", "Count": count, "Tasks": [task]}]}}


def test_allocations_query_ignores_job_writes_and_wakes_on_alloc_change(
    api: httpx.Client,
) -> None:
    assert api.put("/v1/jobs", json=_job("blocking-run", 1)).status_code == 200
    alloc = wait_for(
        lambda: next(
            (
                a
                for a in api.get("/v1/job/blocking-run/allocations").json()
                if a["ClientStatus"] == "running"
            ),
            None,
        ),
        timeout=20,
        what="blocking-run alloc running",
    )
    first = api.get("/v1/allocations")
    index = int(first.headers["X-Nomad-Index"])
    assert alloc["ID"] in [a["ID"] for a in first.json()]

    # a job-only write passes the cluster index but not the allocations table's
    wrote = api.put("/v1/jobs", json=_job("blocking-idle", 0))
    assert int(wrote.headers["X-Nomad-Index"]) > index
    idle = api.get(f"/v1/allocations?index={index}&wait=1s")
    assert int(idle.headers["X-Nomad-Index"]) == index

    answer: dict[str, httpx.Response] = {}
    parked = threading.Thread(
        target=lambda: answer.setdefault(
            "r", api.get(f"/v1/allocations?index={index}&wait=30s", timeout=40)
        )
    )
    parked.start()
    stop = api.put(f"/v1/allocation/{alloc['ID']}/stop")
    assert stop.status_code == 200, stop.text
    parked.join(20)
    assert not parked.is_alive()
    resp = answer["r"]
    assert int(resp.headers["X-Nomad-Index"]) > index
    stub = next(a for a in resp.json() if a["ID"] == alloc["ID"])
    assert stub["ModifyIndex"] > alloc["ModifyIndex"]
    api.delete("/v1/job/blocking-run?purge=true")
    api.delete("/v1/job/blocking-idle?purge=true")
