"""Hostile input over real HTTP against a dev agent: oversized bodies (413),
deep or huge job specs, bad IDs and names, path traversal through the logs
endpoint; plus one plain request per bug the schemathesis run found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.api.limits import DEFAULT_MAX_BODY_BYTES
from controlplane.structs import to_builtins
from tests.waiting import wait_for

LOG_JOB = """
job "hostile-logs" {
  group "app" {
    task "web" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo visible-line; exec sleep 600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


def _api_job(job_id: str = "hostile", **group: Any) -> dict[str, Any]:
    tg = {
        "Name": "g",
        "Count": 0,
        "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}],
        **group,
    }
    return {"ID": job_id, "TaskGroups": [tg]}


@pytest.fixture(scope="module")
def running_alloc(api: httpx.Client) -> dict[str, Any]:
    job = to_builtins(jobspec.parse_job(LOG_JOB, "logs.nomad"))
    assert api.put("/v1/jobs", json={"Job": job}).status_code == 200

    def running() -> dict[str, Any] | None:
        allocs = api.get("/v1/job/hostile-logs/allocations").json()
        return next((a for a in allocs if a["ClientStatus"] == "running"), None)

    alloc: dict[str, Any] = wait_for(running, what="a running allocation")
    return alloc


# -- body size -----------------------------------------------------------------


def test_body_over_the_limit_is_refused_with_413(api: httpx.Client) -> None:
    body = b'{"Job": {"ID": "' + b"x" * DEFAULT_MAX_BODY_BYTES + b'"}}'
    resp = api.put("/v1/jobs", content=body)
    assert resp.status_code == 413
    assert resp.text == f"Request body too large: limit is {DEFAULT_MAX_BODY_BYTES} bytes"
    assert api.get("/v1/agent/health").status_code == 200  # and the agent carries on


def test_chunked_body_over_the_limit_is_refused_with_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # a generator: sent chunked, no Content-Length
        for _ in range(9):
            yield b" " * (1024 * 1024)

    resp = api.put("/v1/jobs", content=chunks())
    assert resp.status_code == 413
    assert "Request body too large" in resp.text


def test_snapshot_restore_has_a_larger_limit(api: httpx.Client) -> None:
    # past the general limit, under the snapshot one: refused as a bad
    # snapshot (400), not as too large (413)
    resp = api.put("/v1/operator/snapshot", content=b"\0" * (DEFAULT_MAX_BODY_BYTES + 1))
    assert resp.status_code == 400, resp.text


# -- job specs -----------------------------------------------------------------


def test_deeply_nested_job_body_is_refused(api: httpx.Client) -> None:
    deep = '{"a":' * 200 + "1" + "}" * 200
    body = json.dumps({"Job": _api_job()})[:-2] + f', "Meta": {deep}}}}}'
    resp = api.put("/v1/jobs", content=body)
    assert resp.status_code == 400
    assert resp.text == (
        "Failed to decode request body: body is nested too deeply (more than 64 levels)"
    )
    resp = api.put("/v1/jobs", content="[" * 100_000 + "]" * 100_000)
    assert resp.status_code == 400 and "nested too deeply" in resp.text


def test_deeply_nested_hcl_is_refused_with_its_line(api: httpx.Client) -> None:
    text = 'job "x" {\n  meta = ' + "[" * 3000 + "]" * 3000 + "\n}\n"
    resp = api.post("/v1/jobs/parse", json={"JobHCL": text})
    assert resp.status_code == 400
    assert resp.text.startswith("Failed to parse job: <input>:2: ")
    assert "nested too deeply" in resp.text


def test_huge_job_file_is_refused(api: httpx.Client) -> None:
    text = 'job "x" {\n' + "  # filler\n" * 200_000 + "}\n"
    resp = api.post("/v1/jobs/parse", json={"JobHCL": text})
    assert resp.status_code == 400
    assert "job file is too large" in resp.text


def test_count_that_would_blow_up_the_scheduler_names_the_field(api: httpx.Client) -> None:
    resp = api.put("/v1/jobs", json={"Job": _api_job(Count=1_000_000)})
    assert resp.status_code == 400
    assert 'group "g": count must be at most 10000 (got 1000000)' in resp.text
    assert api.get("/v1/job/hostile").status_code == 404


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        ("with space", "must not contain spaces"),
        ("nul\x00", "must not contain a null character"),
        ("x" * 200, "at most 128 characters"),
    ],
)
def test_bad_job_ids_are_refused(api: httpx.Client, job_id: str, message: str) -> None:
    resp = api.put("/v1/jobs", json={"Job": _api_job(job_id)})
    assert resp.status_code == 400
    assert message in resp.text


def test_task_name_that_climbs_out_of_the_alloc_dir_is_refused(api: httpx.Client) -> None:
    job = _api_job(Tasks=[{"Name": "../../escape", "Driver": "raw_exec"}])
    resp = api.put("/v1/jobs", json={"Job": job})
    assert resp.status_code == 400
    assert "must not contain slashes" in resp.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/allocation/no-such-alloc", 404),
        ("/v1/allocation/%00", 404),
        ("/v1/evaluation/..%2F..%2Fetc", 404),
        ("/v1/node/%E2%80%AE", 404),
        ("/v1/deployment/" + "f" * 5000, 404),
        ("/v1/job/%2E%2E/summary", 404),
        ("/v1/allocations?prefix=%00%FF", 200),  # no match: an empty list
    ],
)
def test_malformed_ids_and_prefixes_are_answered_not_crashed_on(
    api: httpx.Client, path: str, status: int
) -> None:
    resp = api.get(path)
    assert resp.status_code == status, (path, resp.status_code, resp.text)


# -- logs: no path traversal ------------------------------------------------------


@pytest.mark.parametrize(
    "task",
    ["../../../../etc/passwd", "/etc/passwd", "..", "web/../../x", "web\x00", "..\\..\\x"],
)
def test_log_task_names_cannot_traverse(
    api: httpx.Client, running_alloc: dict[str, Any], task: str
) -> None:
    resp = api.get(
        f"/v1/client/fs/logs/{running_alloc['ID']}",
        params={"task": task, "type": "stdout", "plain": "true"},
    )
    assert resp.status_code == 400
    assert resp.text.startswith("invalid task name")


def test_logs_of_an_unknown_task_are_404_and_a_real_task_still_reads(
    api: httpx.Client, running_alloc: dict[str, Any], dev_agent: Agent
) -> None:
    url = f"/v1/client/fs/logs/{running_alloc['ID']}"
    # a file next to the task's logs that only a name outside the task list could reach
    assert dev_agent.client is not None
    logs_dir = Path(dev_agent.client.task_logs_dir(running_alloc["ID"]))
    (logs_dir / "secret.stdout.0").write_text("do-not-serve\n")
    resp = api.get(url, params={"task": "secret", "type": "stdout", "plain": "true"})
    assert resp.status_code == 404
    assert resp.text == 'task group "app" does not have task with name "secret"'
    text = wait_for(
        lambda: (
            r.text
            if "visible-line"
            in (r := api.get(url, params={"task": "web", "type": "stdout", "plain": "true"})).text
            else None
        ),
        what="the task's log",
    )
    assert "do-not-serve" not in text


# -- regressions found by schemathesis (tests/integration/test_api_fuzz.py) --------


def test_scale_with_a_non_integer_job_modify_index_is_400(api: httpx.Client) -> None:
    resp = api.post("/v1/job/anything/scale", json={"Count": 1, "JobModifyIndex": {"a": 1}})
    assert (resp.status_code, resp.text) == (400, "JobModifyIndex must be an integer")
    resp = api.post("/v1/job/anything/scale", json={"Count": 1, "Target": "g"})
    assert (resp.status_code, resp.text) == (400, "Target must be an object")
    resp = api.put("/v1/jobs", json={"Job": _api_job(), "JobModifyIndex": "7"})
    assert (resp.status_code, resp.text) == (400, "JobModifyIndex must be an integer")


@pytest.mark.parametrize("action", ["restart", "signal"])
def test_client_action_body_that_is_not_utf8_is_400(api: httpx.Client, action: str) -> None:
    resp = api.post(f"/v1/client/allocation/some-alloc/{action}", content=b"\xb4\xca")
    assert resp.status_code == 400
    assert resp.text.startswith("Failed to decode request body")


def test_parse_with_a_non_string_job_hcl_is_400(api: httpx.Client) -> None:
    resp = api.post("/v1/jobs/parse", json={"JobHCL": 1104})
    assert (resp.status_code, resp.text) == (400, "JobHCL must be a string")


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/v1/deployment/allocation-health/d",
            {"HealthyAllocationIDs": -1954},
            "HealthyAllocationIDs must be a list of strings",
        ),
        (
            "/v1/deployment/allocation-health/d",
            {"UnhealthyAllocationIDs": [True]},
            "UnhealthyAllocationIDs must be a list of strings",
        ),
        ("/v1/deployment/promote/d", {"Groups": 3}, "Groups must be a list of strings"),
    ],
)
def test_deployment_id_lists_of_the_wrong_type_are_400(
    api: httpx.Client, path: str, body: dict[str, Any], message: str
) -> None:
    resp = api.post(path, json=body)
    assert (resp.status_code, resp.text) == (400, message)
