"""Bad requests get Nomad-style plain-text 4xx errors and leave no trace in state."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from tests.waiting import wait_for

GOOD_JOB: dict[str, Any] = {
    "ID": "err-job",
    "TaskGroups": [
        {
            "Name": "g",
            "Count": 1,
            "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}],
        }
    ],
}


def _state_index(agent: Agent) -> int:
    assert agent.server is not None
    return agent.server.store.index


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "Request body is empty"),
        (b"{not json", 400, "Failed to decode request body"),
        (b'{"Job": null}', 400, "Job must be specified"),
        (b'{"Job": {"TaskGroups": []}}', 400, "Job ID hasn't been provided"),
        (
            b'{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": "three"}]}}',
            400,
            'invalid job: group "g" Count: Expected `int`, got `str`',
        ),
        (
            b'{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": -1, "Tasks": '
            b'[{"Name": "t", "Driver": "raw_exec"}]}]}}',
            400,
            "count must be >= 0",
        ),
        (
            b'{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t"}]}]}}',
            400,
            "driver",
        ),
        (
            b'{"Job": {"ID": "bad id", "TaskGroups": [{"Name": "g", "Tasks": '
            b'[{"Name": "t", "Driver": "raw_exec"}]}]}}',
            400,
            "space",
        ),
    ],
)
def test_bad_register_bodies(
    api: httpx.Client, dev_agent: Agent, body: bytes, status: int, message: str
) -> None:
    before = _state_index(dev_agent)
    resp = api.put("/v1/jobs", content=body)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    assert message in resp.text
    assert "Traceback" not in resp.text
    assert _state_index(dev_agent) == before, "a rejected request wrote to the state"
    assert api.get("/v1/jobs").json() == []


def test_lowercase_keys_are_accepted_like_go(api: httpx.Client) -> None:
    body = {
        "job": {
            "id": "lower",
            "taskgroups": [
                {
                    "name": "g",
                    "count": 0,
                    "tasks": [
                        {"name": "t", "driver": "raw_exec", "config": {"command": "/bin/true"}}
                    ],
                }
            ],
        }
    }
    resp = api.put("/v1/jobs", json=body)
    assert resp.status_code == 200, resp.text
    job = api.get("/v1/job/lower").json()
    assert job["TaskGroups"][0]["Tasks"][0]["Config"] == {"command": "/bin/true"}
    api.delete("/v1/job/lower", params={"purge": "true"})


def test_path_id_must_match_body(api: httpx.Client) -> None:
    resp = api.put("/v1/job/other", json={"Job": GOOD_JOB})
    assert (resp.status_code, resp.text) == (400, "Job ID does not match name")


def test_check_index_conflict_is_409_and_keeps_the_job(api: httpx.Client) -> None:
    first = api.put("/v1/jobs", json={"Job": GOOD_JOB, "EnforceIndex": True, "JobModifyIndex": 0})
    assert first.status_code == 200, first.text
    again = api.put("/v1/jobs", json={"Job": GOOD_JOB, "EnforceIndex": True, "JobModifyIndex": 0})
    assert again.status_code == 409
    assert again.text == "Enforcing job modify index 0: job already exists"
    current = first.json()["JobModifyIndex"]
    changed = dict(GOOD_JOB, Priority=70)
    stale = api.put(
        "/v1/jobs", json={"Job": changed, "EnforceIndex": True, "JobModifyIndex": current + 100}
    )
    assert stale.status_code == 409
    assert stale.text == (
        f"Enforcing job modify index {current + 100}: job exists with conflicting "
        f"job modify index: {current}"
    )
    assert api.get("/v1/job/err-job").json()["Priority"] == 50
    ok = api.put("/v1/jobs", json={"Job": changed, "EnforceIndex": True, "JobModifyIndex": current})
    assert ok.status_code == 200
    assert api.get("/v1/job/err-job").json()["Priority"] == 70
    api.delete("/v1/job/err-job", params={"purge": "true"})


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/v1/job/nope", 404, "job not found"),
        ("GET", "/v1/job/nope/summary", 404, "job not found"),
        ("GET", "/v1/allocation/00000000-0000-0000-0000-000000000000", 404, "alloc not found"),
        ("GET", "/v1/evaluation/nope", 404, "eval not found"),
        ("GET", "/v1/node/nope", 404, "node not found"),
        ("GET", "/v1/deployment/nope", 404, "deployment not found"),
        ("DELETE", "/v1/nodes", 405, "Invalid method"),
        ("GET", "/v1/jobs?index=abc", 400, "Invalid index"),
        ("GET", "/v1/jobs?index=1&wait=forever", 400, "Invalid wait time"),
        ("GET", "/v1/client/fs/logs/x?type=stdout", 400, "must provide task name"),
        (
            "GET",
            "/v1/client/fs/logs/x?task=t&type=both",
            400,
            "must provide log type (stdout/stderr)",
        ),
    ],
)
def test_error_statuses(
    api: httpx.Client, method: str, path: str, status: int, message: str
) -> None:
    resp = api.request(method, path)
    assert (resp.status_code, resp.text) == (status, message)


def test_parse_endpoint(api: httpx.Client) -> None:
    hcl = 'job "p" {\n  group "g" {\n    task "t" {\n      driver = "raw_exec"\n    }\n  }\n}\n'
    raw = api.put("/v1/jobs/parse", json={"JobHCL": hcl}).json()
    assert raw["ID"] == "p" and raw["TaskGroups"][0]["Tasks"][0]["Driver"] == "raw_exec"
    canon = api.put("/v1/jobs/parse", json={"JobHCL": hcl, "Canonicalize": True}).json()
    assert canon["Priority"] == 50 and canon["TaskGroups"][0]["Count"] == 1
    bad = api.put("/v1/jobs/parse", json={"JobHCL": 'job "p" {\n  group "g" {\n'})
    assert bad.status_code == 400 and bad.text.startswith("Failed to parse job: ")
    empty = api.put("/v1/jobs/parse", json={"JobHCL": ""})
    assert (empty.status_code, empty.text) == (400, "Job spec is empty")


def test_snapshot_save_and_restore(api: httpx.Client) -> None:
    assert api.put("/v1/jobs", json={"Job": dict(GOOD_JOB, ID="snap-a")}).status_code == 200
    saved = api.get("/v1/operator/snapshot")
    assert saved.status_code == 200
    digest = base64.b64encode(hashlib.sha256(saved.content).digest()).decode()
    assert saved.headers["Digest"] == f"sha-256={digest}"

    api.delete("/v1/job/snap-a", params={"purge": "true"})
    assert api.get("/v1/job/snap-a").status_code == 404
    restored = api.put("/v1/operator/snapshot", content=saved.content)
    assert restored.status_code == 200, restored.text
    assert api.get("/v1/job/snap-a").json()["ID"] == "snap-a"

    bad = api.put("/v1/operator/snapshot", content=b"not a snapshot")
    assert (bad.status_code, bad.text) == (400, "not a nomadtui snapshot (bad header)")
    api.delete("/v1/job/snap-a", params={"purge": "true"})


def test_system_gc_forgets_a_stopped_job(api: httpx.Client) -> None:
    body = {"Job": dict(GOOD_JOB, ID="gc-me", TaskGroups=[dict(GOOD_JOB["TaskGroups"][0],
                                                                Count=0)])}
    assert api.put("/v1/jobs", json=body).status_code == 200
    assert api.delete("/v1/job/gc-me").status_code == 200

    def collected() -> bool:
        assert api.put("/v1/system/gc").status_code == 200
        return api.get("/v1/job/gc-me").status_code == 404

    wait_for(collected, what="the stopped job collected")
