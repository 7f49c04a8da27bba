"""Parameterized jobs and dispatch on a real dev agent (server + client, raw_exec).

The payload reaches the task's file (the task prints it; read back through
the logs API); meta_required and forbidden payloads are refused with
Nomad's messages; idempotency tokens (query or body) return the same child;
the CLI dispatches and `job status` shows the parent's summary.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from tests.cli_support import CliResult, run_cli
from tests.job_support import raw_exec_job
from tests.waiting import wait_for

SCRIPT = 'cat "$NOMAD_TASK_DIR/input.txt"; echo; echo "color=$NOMAD_META_color"'


def _parent(job_id: str, payload: str = "optional", **cfg: Any) -> dict[str, Any]:
    return raw_exec_job(
        job_id,
        SCRIPT,
        job_type="batch",
        resources=(50, 32),
        task={"DispatchPayload": {"File": "input.txt"}},
        ParameterizedJob={"Payload": payload, **cfg},
    )


@pytest.fixture
def parent(api: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A registered parameterized job (config from the test's `cfg` marker-free param)."""
    cfg: dict[str, Any] = getattr(request, "param", {})
    job_id = f"render-{request.node.name[5:30].replace('_', '-')}"
    resp = api.put("/v1/jobs", json=_parent(job_id, **cfg))
    assert resp.status_code == 200, resp.text
    assert resp.json()["EvalID"] == ""  # a parameterized parent is not scheduled
    yield job_id
    for j in api.get("/v1/jobs", params={"prefix": job_id}).json():
        api.delete(f"/v1/job/{j['ID']}", params={"purge": "true"})


def _dispatch(api: httpx.Client, job_id: str, **body: Any) -> httpx.Response:
    params = body.pop("params", None)
    return api.put(f"/v1/job/{job_id}/dispatch", json=body, params=params)


def _children(api: httpx.Client, job_id: str) -> list[str]:
    jobs = api.get("/v1/jobs", params={"prefix": f"{job_id}/"}).json()
    return sorted(j["ID"] for j in jobs if j["ParentID"] == job_id)


def _stdout(api: httpx.Client, job_id: str, task: str = "t") -> str:
    def done() -> dict[str, Any] | None:
        allocs = api.get(f"/v1/job/{job_id}/allocations").json()
        return allocs[0] if allocs and allocs[0]["ClientStatus"] == "complete" else None

    alloc = wait_for(done, timeout=30, what=f"{job_id} to complete")
    return api.get(
        f"/v1/client/fs/logs/{alloc['ID']}",
        params={"task": task, "type": "stdout", "plain": "true"},
    ).text


@pytest.mark.parametrize("parent", [{"MetaOptional": ["color"]}], indirect=True)
def test_payload_and_meta_reach_the_task(api: httpx.Client, parent: str) -> None:
    resp = _dispatch(
        api, parent, Payload=base64.b64encode(b"hello payload").decode(), Meta={"color": "red"}
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    child = out["DispatchedJobID"]
    assert re.fullmatch(rf"{parent}/dispatch-\d+-[0-9a-f]{{8}}", child)
    assert out["EvalID"] and out["EvalCreateIndex"] and out["JobCreateIndex"]
    assert _stdout(api, child) == "hello payload\ncolor=red\n"
    job = api.get(f"/v1/job/{child}").json()
    assert job["ParentID"] == parent and job["Dispatched"] is True
    assert base64.b64decode(job["Payload"]) == b"hello payload"
    summary = api.get(f"/v1/job/{parent}/summary").json()
    assert summary["Children"] == {"Pending": 0, "Running": 0, "Dead": 1}
    stub = next(j for j in api.get("/v1/jobs").json() if j["ID"] == child)
    assert stub["ParentID"] == parent and stub["ParameterizedJob"] is False


@pytest.mark.parametrize("parent", [{"MetaRequired": ["color", "size"]}], indirect=True)
def test_meta_required_is_enforced(api: httpx.Client, parent: str) -> None:
    resp = _dispatch(api, parent, Meta={"color": "red"})
    assert resp.status_code == 400
    assert resp.text == "Dispatch did not provide required meta keys: [size]"
    resp = _dispatch(api, parent, Meta={"color": "red", "size": "L", "shape": "x"})
    assert resp.text == "Dispatch request included unpermitted metadata keys: [shape]"
    assert _children(api, parent) == []
    assert _dispatch(api, parent, Meta={"color": "red", "size": "L"}).status_code == 200


@pytest.mark.parametrize("parent", [{"Payload": "forbidden"}], indirect=True)
def test_forbidden_payload_is_refused(api: httpx.Client, parent: str) -> None:
    resp = _dispatch(api, parent, Payload=base64.b64encode(b"x").decode())
    assert resp.status_code == 400
    assert resp.text == "Payload provided but forbidden by parameterized job"
    assert _children(api, parent) == []


def test_idempotency_token_in_query_or_body_returns_the_same_child(
    api: httpx.Client, parent: str
) -> None:
    first = _dispatch(api, parent, params={"idempotency_token": "q-1"}).json()
    again = _dispatch(api, parent, params={"idempotency_token": "q-1"}).json()
    assert again["DispatchedJobID"] == first["DispatchedJobID"] and again["EvalID"] == ""
    # python-nomad sends the token in the body
    body_first = _dispatch(api, parent, IdempotencyToken="b-1").json()
    body_again = _dispatch(api, parent, IdempotencyToken="b-1").json()
    assert body_again["DispatchedJobID"] == body_first["DispatchedJobID"]
    assert body_first["DispatchedJobID"] != first["DispatchedJobID"]
    assert _children(api, parent) == sorted(
        [first["DispatchedJobID"], body_first["DispatchedJobID"]]
    )


def test_dispatching_a_plain_job_is_refused(api: httpx.Client) -> None:
    body = _parent("plain-batch")
    del body["Job"]["ParameterizedJob"]
    body["Job"]["TaskGroups"][0]["Count"] = 0
    assert api.put("/v1/jobs", json=body).status_code == 200
    try:
        resp = _dispatch(api, "plain-batch")
        assert resp.status_code == 400
        assert resp.text == 'Specified job "plain-batch" is not a parameterized job'
        assert _dispatch(api, "no-such-job").status_code == 404
    finally:
        api.delete("/v1/job/plain-batch", params={"purge": "true"})


def _cli(agent: Agent, *argv: str, stdin: str = "") -> CliResult:
    return run_cli(f"http://{agent.config.http_addr}", *argv, stdin=stdin)


@pytest.mark.parametrize(
    "parent", [{"Payload": "required", "MetaOptional": ["color"]}], indirect=True
)
def test_cli_dispatch_and_status(dev_agent: Agent, api: httpx.Client, parent: str) -> None:
    code, out, err = _cli(
        dev_agent,
        "job",
        "dispatch",
        "-meta",
        "color=blue",
        "-id-prefix-template",
        "cli",
        "-idempotency-token",
        "tok-cli",
        parent,
        "-",
        stdin="from stdin",
    )
    assert code == 0, err
    child = re.search(r"Dispatched Job ID\s+= (\S+)", out)
    assert child is not None and child.group(1).startswith(f"{parent}/dispatch-cli-")
    assert "Evaluation ID" in out and "finished with status" in out
    assert _stdout(api, child.group(1)) == "from stdin\ncolor=blue\n"
    # the same token again: the same child, nothing to monitor
    code, again, _ = _cli(
        dev_agent,
        "job",
        "dispatch",
        "-idempotency-token",
        "tok-cli",
        "-detach",
        parent,
        "-",
        stdin="x",
    )
    assert code == 0 and child.group(1) in again and "Evaluation ID" not in again
    code, _, err = _cli(dev_agent, "job", "dispatch", "-detach", parent)
    assert code == 1
    assert err.strip() == (
        "Failed to dispatch job: Payload is not provided but required by parameterized job"
    )
    code, status, _ = _cli(dev_agent, "job", "status", parent)
    assert code == 0
    assert re.search(r"Parameterized\s+= true", status)
    assert re.search(
        r"Parameterized Job\nPayload\s+= required\nOptional Metadata\s+= color", status
    )
    assert "Parameterized Job Summary\nPending  Running  Dead\n0        0        1" in status
    assert re.search(rf"Dispatched Jobs\nID\s+Status\n{re.escape(child.group(1))}\s+dead", status)


def test_example_dispatch_job(api: httpx.Client) -> None:
    from pathlib import Path

    from controlplane import jobspec
    from controlplane.structs import to_builtins

    path = Path(__file__).resolve().parents[2] / "examples" / "dispatch.nomad"
    job = jobspec.parse_job(path.read_text(), str(path))
    assert api.put("/v1/jobs", json={"Job": to_builtins(job)}).status_code == 200
    try:
        resp = _dispatch(
            api,
            "dispatch-greeter",
            Payload=base64.b64encode(b"hello\n").decode(),
            Meta={"name": "world"},
        )
        assert resp.status_code == 200, resp.text
        child = resp.json()["DispatchedJobID"]
        assert _stdout(api, child, task="greet") == "hi world\nhello\n"
    finally:
        for j in api.get("/v1/jobs", params={"prefix": "dispatch-greeter"}).json():
            api.delete(f"/v1/job/{j['ID']}", params={"purge": "true"})
