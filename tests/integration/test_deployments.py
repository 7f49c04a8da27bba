"""Deployments on a real dev agent: rolling updates one at a time, canaries and
promotion, auto-revert of a failing version, scaling, plan dry-runs."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx

from controlplane import jobspec
from controlplane.structs import to_builtins
from tests.waiting import wait_for

JOB = """
job "rolling" {
  datacenters = ["dc1"]
  update {
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "30s"
    progress_deadline = "2m"
    auto_revert      = %(auto_revert)s
    canary           = %(canary)d
  }
  group "app" {
    count = %(count)d
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "%(script)s"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


def _body(script: str = "echo v1; exec sleep 600", count: int = 3, canary: int = 0,
          auto_revert: bool = False, job_id: str = "rolling") -> dict[str, Any]:
    text = JOB % {"script": script, "count": count, "canary": canary,
                  "auto_revert": str(auto_revert).lower()}
    text = text.replace('"rolling"', f'"{job_id}"')
    return {"Job": to_builtins(jobspec.parse_job(text, "rolling.nomad"))}


def _deployment(api: httpx.Client, job: str) -> dict[str, Any]:
    dep: dict[str, Any] = api.get(f"/v1/job/{job}/deployment").json()
    return dep


def _wait_deployment(api: httpx.Client, job: str, version: int, status: str,
                     timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        d = _deployment(api, job)
        return d if d and d["JobVersion"] == version and d["Status"] == status else None

    result: dict[str, Any] = wait_for(done, timeout=timeout,
                                      what=f"deployment of v{version} {status}")
    return result


def _allocs(api: httpx.Client, job: str) -> list[dict[str, Any]]:
    allocs: list[dict[str, Any]] = api.get(f"/v1/job/{job}/allocations").json()
    return allocs


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_rolling_update_replaces_one_at_a_time(api: httpx.Client) -> None:
    assert api.put("/v1/jobs", json=_body()).status_code == 200
    first = _wait_deployment(api, "rolling", 0, "successful")
    assert first["TaskGroups"]["app"]["HealthyAllocs"] == 3
    job = api.get("/v1/job/rolling").json()
    assert job["Stable"] is True

    assert api.put("/v1/jobs", json=_body("echo v2; exec sleep 600")).status_code == 200
    second = _wait_deployment(api, "rolling", 1, "successful", timeout=90)
    state = second["TaskGroups"]["app"]
    assert (state["DesiredTotal"], state["PlacedAllocs"], state["HealthyAllocs"]) == (3, 3, 3)

    new = sorted(
        (a for a in _allocs(api, "rolling") if a["JobVersion"] == 1),
        key=lambda a: a["CreateTime"],
    )
    assert len(new) == 3 and all(a["ClientStatus"] == "running" for a in new)
    # max_parallel = 1: each replacement was placed only after the previous one was healthy
    for earlier, later in pairwise(new):
        healthy_at = _ts(earlier["DeploymentStatus"]["Timestamp"])
        assert later["CreateTime"] / 1e9 >= healthy_at - 0.01, (earlier, later)
    old = [a for a in _allocs(api, "rolling") if a["JobVersion"] == 0]
    assert all(a["DesiredStatus"] == "stop" for a in old)
    api.delete("/v1/job/rolling", params={"purge": "true"})


def test_canary_then_promote(api: httpx.Client) -> None:
    body = _body(count=2, canary=1, job_id="canary")
    assert api.put("/v1/jobs", json=body).status_code == 200
    _wait_deployment(api, "canary", 0, "successful")

    changed = _body("echo v2; exec sleep 600", count=2, canary=1, job_id="canary")
    assert api.put("/v1/jobs", json=changed).status_code == 200

    def canary_healthy() -> dict[str, Any] | None:
        d = _deployment(api, "canary")
        state = d["TaskGroups"]["app"] if d and d["JobVersion"] == 1 else None
        return d if state and state["PlacedCanaries"] and state["HealthyAllocs"] >= 1 else None

    dep = wait_for(canary_healthy, timeout=60, what="a healthy canary")
    assert dep["Status"] == "running"
    assert dep["StatusDescription"] == "Deployment is running but requires manual promotion"
    allocs = _allocs(api, "canary")
    live = [a for a in allocs if a["DesiredStatus"] == "run"]
    assert sorted(a["JobVersion"] for a in live) == [0, 0, 1]
    assert [a["DeploymentStatus"]["Canary"] for a in live if a["JobVersion"] == 1] == [True]

    resp = api.put(f"/v1/deployment/promote/{dep['ID']}", json={"DeploymentID": dep["ID"],
                                                               "All": True})
    assert resp.status_code == 200, resp.text
    done = _wait_deployment(api, "canary", 1, "successful", timeout=60)
    assert done["TaskGroups"]["app"]["Promoted"] is True
    live = [a for a in _allocs(api, "canary") if a["DesiredStatus"] == "run"]
    assert sorted(a["JobVersion"] for a in live) == [1, 1]
    api.delete("/v1/job/canary", params={"purge": "true"})


def test_failing_version_is_auto_reverted(api: httpx.Client) -> None:
    good = _body(count=2, auto_revert=True, job_id="revert")
    assert api.put("/v1/jobs", json=good).status_code == 200
    _wait_deployment(api, "revert", 0, "successful")
    bad = _body("echo broken; exit 3", count=2, auto_revert=True, job_id="revert")
    assert api.put("/v1/jobs", json=bad).status_code == 200
    # the revert's own deployment soon becomes the latest: look at them all
    failed = wait_for(
        lambda: next((d for d in api.get("/v1/job/revert/deployments").json()
                      if d["JobVersion"] == 1 and d["Status"] == "failed"), None),
        timeout=90,
        what="v1 deployment failed",
    )
    assert failed["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    job = wait_for(
        lambda: (j := api.get("/v1/job/revert").json())["Version"] == 2 and j,
        what="reverted version",
    )
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["args"][1] == "echo v1; exec sleep 600"
    _wait_deployment(api, "revert", 2, "successful", timeout=90)
    versions = api.get("/v1/job/revert/versions").json()["Versions"]
    assert [(v["Version"], v["Stable"]) for v in versions] == [(2, True), (1, False), (0, True)]
    api.delete("/v1/job/revert", params={"purge": "true"})


def test_plan_changes_nothing_and_reports_updates(api: httpx.Client, dev_agent: Any) -> None:
    body = _body(count=1, job_id="planned")
    assert api.put("/v1/jobs", json=body).status_code == 200
    _wait_deployment(api, "planned", 0, "successful")
    before_index = dev_agent.server.store.index
    before = api.get("/v1/job/planned").json()

    bigger = _body(count=3, job_id="planned")
    resp = api.put("/v1/job/planned/plan", json={**bigger, "Diff": True})
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    updates = plan["Annotations"]["DesiredTGUpdates"]["app"]
    assert (updates["Place"], updates["InPlaceUpdate"]) == (2, 1)
    assert plan["JobModifyIndex"] == before["JobModifyIndex"]
    group = plan["Diff"]["TaskGroups"][0]
    assert group["Updates"] == {"create": 2, "in-place update": 1}
    count = next(f for f in group["Fields"] if f["Name"] == "Count")
    assert (count["Old"], count["New"], count["Annotations"]) == ("1", "3", ["forces create"])

    assert dev_agent.server.store.index == before_index, "a plan wrote to the state"
    assert api.get("/v1/job/planned").json()["Version"] == before["Version"]
    assert len(_allocs(api, "planned")) == 1

    scaled = api.put("/v1/job/planned/scale", json={
        "Count": 2, "Target": {"Job": "planned", "Group": "app"},
        "Message": "submitted using the Nomad CLI"})
    assert scaled.status_code == 200, scaled.text
    _wait_deployment(api, "planned", 1, "successful")
    status = api.get("/v1/job/planned/scale").json()
    assert status["TaskGroups"]["app"]["Desired"] == 2
    assert status["TaskGroups"]["app"]["Running"] == 2
    api.delete("/v1/job/planned", params={"purge": "true"})
