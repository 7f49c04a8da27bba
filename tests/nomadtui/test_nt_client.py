"""The API client: configuration from NOMAD_*, metadata headers, blocking
parameters, typed errors, unreachable agents."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from controlplane.errors import InternalError, NotFound, ValidationError
from nomadtui.client import AgentUnreachable, NomadClient


def _echo(seen: list[httpx.Request], response: httpx.Response) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return httpx.MockTransport(handler)


def test_env_sets_address_token_namespace_region() -> None:
    seen: list[httpx.Request] = []
    env = {
        "NOMAD_ADDR": "http://10.0.0.5:4646",
        "NOMAD_TOKEN": "s3cret",
        "NOMAD_NAMESPACE": "apps",
        "NOMAD_REGION": "eu",
    }
    client = NomadClient(env=env, transport=_echo(seen, httpx.Response(200, json=[])))
    client.jobs()
    req = seen[0]
    assert str(req.url).startswith("http://10.0.0.5:4646/v1/jobs")
    assert req.headers["X-Nomad-Token"] == "s3cret"
    assert req.url.params["namespace"] == "apps"
    assert req.url.params["region"] == "eu"


def test_explicit_arguments_win_over_env_and_default_address() -> None:
    assert NomadClient(env={}).address == "http://127.0.0.1:4646"
    client = NomadClient(address="127.0.0.1:9999", env={"NOMAD_ADDR": "http://x:1"})
    assert client.address == "http://127.0.0.1:9999"
    assert "X-Nomad-Token" not in NomadClient(env={}).config.headers()


def test_blocking_read_sends_index_and_wait_and_returns_metadata() -> None:
    seen: list[httpx.Request] = []
    reply = httpx.Response(
        200,
        json={"ID": "e1"},
        headers={"X-Nomad-Index": "42", "X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "7"},
    )
    client = NomadClient(env={}, transport=_echo(seen, reply))
    resp = client.get("/v1/evaluation/e1", index=41, wait=5)
    assert seen[0].url.params["index"] == "41"
    assert seen[0].url.params["wait"] == "5000ms"
    assert (resp.data, resp.index, resp.known_leader, resp.last_contact) == (
        {"ID": "e1"},
        42,
        True,
        7,
    )


def test_non_blocking_read_sends_no_index() -> None:
    seen: list[httpx.Request] = []
    client = NomadClient(env={}, transport=_echo(seen, httpx.Response(200, json={})))
    resp = client.evaluation("e1")
    assert "index" not in seen[0].url.params
    assert resp.index == 0  # no header: tolerated


def test_404_raises_not_found_with_the_body_text() -> None:
    client = NomadClient(env={}, transport=_echo([], httpx.Response(404, text="job not found")))
    with pytest.raises(NotFound, match=r"^job not found$"):
        client.job("nope")


def test_500_multierror_is_flattened_to_one_line() -> None:
    body = "1 error occurred:\n\t* Task group cache validation failed\n\n"
    client = NomadClient(env={}, transport=_echo([], httpx.Response(500, text=body)))
    with pytest.raises(InternalError) as err:
        client.register_job({"ID": "x"})
    assert str(err.value) == "Task group cache validation failed"


def test_400_is_a_validation_error() -> None:
    client = NomadClient(env={}, transport=_echo([], httpx.Response(400, text="Invalid index")))
    with pytest.raises(ValidationError):
        client.get("/v1/jobs", index=1)


def test_register_body_carries_enforce_index_and_submission() -> None:
    seen: list[httpx.Request] = []
    client = NomadClient(env={}, transport=_echo(seen, httpx.Response(200, json={})))
    client.register_job({"ID": "web"}, enforce_index=0, submission={"Source": "x"})
    body = json.loads(seen[0].content)
    assert seen[0].method == "PUT"
    assert body == {
        "Job": {"ID": "web"},
        "EnforceIndex": True,
        "JobModifyIndex": 0,
        "Submission": {"Source": "x"},
    }


def test_deregister_sends_purge_flag() -> None:
    seen: list[httpx.Request] = []
    client = NomadClient(env={}, transport=_echo(seen, httpx.Response(200, json={})))
    client.deregister_job("web", purge=True)
    assert seen[0].method == "DELETE"
    assert seen[0].url.path == "/v1/job/web"
    assert seen[0].url.params["purge"] == "true"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_is_a_typed_error_naming_the_address() -> None:
    address = f"http://127.0.0.1:{_closed_port()}"
    client = NomadClient(address=address, env={})
    with pytest.raises(AgentUnreachable) as err:
        client.jobs()
    assert str(err.value) == f"no nomadtui agent at {address} (connection refused)"


@pytest.mark.parametrize(
    ("call", "method", "path", "params"),
    [
        (
            lambda c: c.job_versions("web", diffs=True),
            "GET",
            "/v1/job/web/versions",
            {"diffs": "true"},
        ),
        (
            lambda c: c.job_deployments("web", all=True),
            "GET",
            "/v1/job/web/deployments",
            {"all": "true"},
        ),
        (lambda c: c.job_scale_status("web"), "GET", "/v1/job/web/scale", {}),
        (lambda c: c.deployments(prefix="3a"), "GET", "/v1/deployments", {"prefix": "3a"}),
        (lambda c: c.deployment("d1"), "GET", "/v1/deployment/d1", {}),
        (lambda c: c.deployment_allocations("d1"), "GET", "/v1/deployment/allocations/d1", {}),
        (
            lambda c: c.evaluations(job="web", status="blocked"),
            "GET",
            "/v1/evaluations",
            {"job": "web", "status": "blocked"},
        ),
        (lambda c: c.deployment_fail("d1"), "PUT", "/v1/deployment/fail/d1", {}),
    ],
)
def test_endpoint_paths(call: Any, method: str, path: str, params: dict[str, str]) -> None:
    seen: list[httpx.Request] = []
    client = NomadClient(env={}, transport=_echo(seen, httpx.Response(200, json={})))
    call(client)
    assert (seen[0].method, seen[0].url.path, dict(seen[0].url.params)) == (method, path, params)


def test_write_bodies_for_plan_scale_revert_and_deployments() -> None:
    seen: list[httpx.Request] = []
    client = NomadClient(env={}, transport=_echo(seen, httpx.Response(200, json={})))
    client.plan_job({"ID": "web"}, diff=False)
    client.scale_job("web", "api", 4, "why")
    client.revert_job("web", 2, enforce_prior_version=5)
    client.deployment_promote("d1")
    client.deployment_promote("d1", ["api"])
    client.deployment_pause("d1", pause=False)
    sent = [(r.method, r.url.path, json.loads(r.content)) for r in seen]
    assert sent == [
        ("PUT", "/v1/job/web/plan", {"Job": {"ID": "web"}, "Diff": False}),
        (
            "PUT",
            "/v1/job/web/scale",
            {"Count": 4, "Target": {"Job": "web", "Group": "api"}, "Message": "why"},
        ),
        ("PUT", "/v1/job/web/revert", {"JobID": "web", "JobVersion": 2, "EnforcePriorVersion": 5}),
        ("PUT", "/v1/deployment/promote/d1", {"DeploymentID": "d1", "All": True}),
        ("PUT", "/v1/deployment/promote/d1", {"DeploymentID": "d1", "Groups": ["api"]}),
        ("PUT", "/v1/deployment/pause/d1", {"DeploymentID": "d1", "Pause": False}),
    ]
