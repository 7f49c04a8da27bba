"""Namespace-scoped permission checks of every namespaced handler, against a
real dev agent's state (raw_exec jobs in namespaces `a` and `b`), with the
ACL put straight into the request scope where the ACL middleware puts it
(the agent's own app, served over HTTP by a second uvicorn on loopback).

This pins down the handlers' filtering whatever the token machinery; the
same behaviour end to end, with real tokens over real HTTP, is in
test_namespaces_acl.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from controlplane.acl import ACL
from controlplane.acl.capabilities import POLICY_READ, POLICY_WRITE
from controlplane.acl.model import READ, NamespaceRule
from controlplane.agent.agent import Agent
from controlplane.api import events as events_api
from controlplane.api.app import build_app
from tests.job_support import running_allocs
from tests.namespace_support import job_body, put_namespace
from tests.waiting import wait_for

ACLS = {
    "writer-a": ACL(namespaces=(NamespaceRule("a", POLICY_WRITE),)),
    "reader-a": ACL(namespaces=(NamespaceRule("a", POLICY_READ),)),
    "nodes-a": ACL(namespaces=(NamespaceRule("a", POLICY_READ),), node=READ),
    "nobody": ACL(),
}


class InjectACL:
    """Sets scope["state"]["acl"] from a test header, as the ACL middleware would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = dict(scope["headers"]).get(b"x-test-acl")
            if name is not None:
                scope.setdefault("state", {})["acl"] = ACLS[name.decode()]
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def setup(api: httpx.Client) -> dict[str, Any]:
    """Jobs `web` in namespaces a and b, running; their allocation IDs."""
    out: dict[str, Any] = {}
    for ns in ("a", "b"):
        assert put_namespace(api, ns).status_code == 200
        resp = api.put("/v1/jobs", json=job_body("web", namespace=ns))
        assert resp.status_code == 200, resp.text
        out[f"eval_{ns}"] = resp.json()["EvalID"]
    for ns in ("a", "b"):
        allocs = wait_for(lambda ns=ns: running_allocs(api, "web", ns), what=f"web in {ns}")
        out[f"alloc_{ns}"] = allocs[0]["ID"]
        out[f"dep_{ns}"] = api.get("/v1/job/web/deployment", params={"namespace": ns}).json()["ID"]
    return out


@pytest.fixture(scope="module")
def asgi(dev_agent: Agent) -> Iterator[httpx.Client]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            InjectACL(build_app(dev_agent)), log_level="warning", lifespan="off", access_log=False
        )
    )
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="scoped HTTP server started")
    host, port = sock.getsockname()
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def get(asgi: httpx.Client, acl: str, path: str, **params: str) -> httpx.Response:
    return asgi.get(path, params=params, headers={"X-Test-ACL": acl})


def test_job_lists_and_reads_are_scoped(asgi: httpx.Client, setup: dict[str, Any]) -> None:
    mine = get(asgi, "reader-a", "/v1/jobs", namespace="a")
    assert [(j["Namespace"], j["ID"]) for j in mine.json()] == [("a", "web")]
    every = get(asgi, "reader-a", "/v1/jobs", namespace="*").json()
    assert {j["Namespace"] for j in every} == {"a"}
    for path in ("/v1/jobs", "/v1/job/web", "/v1/job/web/allocations", "/v1/job/web/summary"):
        denied = get(asgi, "reader-a", path, namespace="b")
        assert denied.status_code == 403, path
        assert denied.text == "Permission denied"
    assert get(asgi, "reader-a", "/v1/jobs").status_code == 403  # default: no rule
    assert get(asgi, "reader-a", "/v1/job/web", namespace="a").json()["Namespace"] == "a"


def test_writes_need_submit_job_in_the_jobs_namespace(
    asgi: httpx.Client, setup: dict[str, Any]
) -> None:
    headers = {"X-Test-ACL": "reader-a"}
    assert asgi.put("/v1/jobs", json=job_body("x", "a"), headers=headers).status_code == 403
    headers = {"X-Test-ACL": "writer-a"}
    assert asgi.put("/v1/jobs", json=job_body("x", "b"), headers=headers).status_code == 403
    plan = asgi.put("/v1/job/web/plan", json=job_body("web", "b"), headers=headers)
    assert plan.status_code == 403
    stop = asgi.delete("/v1/job/web", params={"namespace": "b"}, headers=headers)
    assert stop.status_code == 403
    scale = asgi.put(
        "/v1/job/web/scale", params={"namespace": "b"}, json={"Count": 2}, headers=headers
    )
    assert scale.status_code == 403
    ok = asgi.put("/v1/job/web/plan", json=job_body("web", "a"), headers=headers)
    assert ok.status_code == 200, ok.text


def test_allocations_evaluations_deployments_are_scoped(
    asgi: httpx.Client, setup: dict[str, Any]
) -> None:
    alloc_a, alloc_b = setup["alloc_a"], setup["alloc_b"]
    listed = get(asgi, "reader-a", "/v1/allocations", namespace="*").json()
    assert alloc_a in {a["ID"] for a in listed}
    assert {a["Namespace"] for a in listed} == {"a"}
    # a short-ID lookup must not leak the other namespace's allocation
    by_prefix = get(asgi, "reader-a", "/v1/allocations", namespace="*", prefix=alloc_b[:4])
    assert all(a["Namespace"] == "a" for a in by_prefix.json())
    assert alloc_b not in {a["ID"] for a in by_prefix.json()}
    assert get(asgi, "reader-a", f"/v1/allocation/{alloc_a}").status_code == 200
    for path in (
        f"/v1/allocation/{alloc_b}",
        f"/v1/allocation/{alloc_b}/services",
        f"/v1/evaluation/{setup['eval_b']}",
        f"/v1/evaluation/{setup['eval_b']}/allocations",
        f"/v1/deployment/{setup['dep_b']}",
        f"/v1/deployment/allocations/{setup['dep_b']}",
    ):
        assert get(asgi, "reader-a", path).status_code == 403, path
    assert get(asgi, "reader-a", f"/v1/evaluation/{setup['eval_a']}").status_code == 200
    assert get(asgi, "reader-a", f"/v1/deployment/{setup['dep_a']}").status_code == 200
    evals = get(asgi, "reader-a", "/v1/evaluations", namespace="*").json()
    deps = get(asgi, "reader-a", "/v1/deployments", namespace="*").json()
    assert {e["Namespace"] for e in evals} == {d["Namespace"] for d in deps} == {"a"}
    # unknown objects are still 404s
    assert get(asgi, "reader-a", "/v1/allocation/" + "0" * 36).status_code == 404


def test_node_allocations_need_node_read_and_are_filtered(
    asgi: httpx.Client, setup: dict[str, Any]
) -> None:
    node_id = get(asgi, "nodes-a", f"/v1/allocation/{setup['alloc_a']}").json()["NodeID"]
    assert get(asgi, "reader-a", f"/v1/node/{node_id}/allocations").status_code == 403
    seen = get(asgi, "nodes-a", f"/v1/node/{node_id}/allocations").json()
    assert setup["alloc_a"] in {a["ID"] for a in seen}
    assert {a["Namespace"] for a in seen} == {"a"}


def test_logs_and_alloc_actions_are_scoped(asgi: httpx.Client, setup: dict[str, Any]) -> None:
    alloc_a, alloc_b = setup["alloc_a"], setup["alloc_b"]
    params = {"task": "t", "type": "stdout", "plain": "true"}
    denied = get(asgi, "writer-a", f"/v1/client/fs/logs/{alloc_b}", **params)
    assert denied.status_code == 403
    # reading logs is read-logs: not part of the read policy
    assert get(asgi, "reader-a", f"/v1/client/fs/logs/{alloc_a}", **params).status_code == 403

    def logged() -> bool:
        resp = get(asgi, "writer-a", f"/v1/client/fs/logs/{alloc_a}", **params)
        return resp.status_code == 200 and "hi-a" in resp.text

    wait_for(logged, what="alloc a's stdout through the logs endpoint")
    headers = {"X-Test-ACL": "writer-a"}
    for path in (
        f"/v1/client/allocation/{alloc_b}/restart",
        f"/v1/client/allocation/{alloc_b}/signal",
        f"/v1/allocation/{alloc_b}/stop",
    ):
        assert asgi.put(path, json={}, headers=headers).status_code == 403, path
    assert get(asgi, "writer-a", f"/v1/client/allocation/{alloc_b}/stats").status_code == 403
    assert get(asgi, "reader-a", f"/v1/client/allocation/{alloc_a}/stats").status_code == 200
    assert get(asgi, "reader-a", "/v1/client/stats").status_code == 403  # node:read
    assert get(asgi, "nodes-a", "/v1/client/stats").status_code == 200


def test_services_are_scoped(asgi: httpx.Client, setup: dict[str, Any]) -> None:
    assert get(asgi, "reader-a", "/v1/services", namespace="b").status_code == 403
    assert get(asgi, "reader-a", "/v1/services", namespace="*").status_code == 200
    assert get(asgi, "reader-a", "/v1/service/web", namespace="b").status_code == 403
    assert get(asgi, "reader-a", "/v1/job/web/services", namespace="b").status_code == 403
    headers = {"X-Test-ACL": "reader-a"}
    resp = asgi.delete("/v1/service/web/x", params={"namespace": "a"}, headers=headers)
    assert resp.status_code == 403


def test_namespaces_shown_are_the_visible_ones(asgi: httpx.Client, setup: dict[str, Any]) -> None:
    names = [n["Name"] for n in get(asgi, "reader-a", "/v1/namespaces").json()]
    assert names == ["a"]
    assert get(asgi, "nobody", "/v1/namespaces").json() == []
    assert get(asgi, "reader-a", "/v1/namespace/a").status_code == 200
    assert get(asgi, "reader-a", "/v1/namespace/b").status_code == 403
    # hidden whether or not it exists
    assert get(asgi, "reader-a", "/v1/namespace/nonexistent").status_code == 403
    headers = {"X-Test-ACL": "writer-a"}
    assert asgi.put("/v1/namespace/a", json={"Name": "a"}, headers=headers).status_code == 403
    assert asgi.delete("/v1/namespace/b", headers=headers).status_code == 403


def test_event_stream_shows_only_readable_namespaces(
    dev_agent: Agent, setup: dict[str, Any]
) -> None:
    buffer = dev_agent.server.raft.fsm.events  # type: ignore[union-attr]
    events = [e for batch in buffer.since(0) for e in batch.events]
    assert {e.namespace for e in events if e.topic == "Job"} >= {"a", "b"}

    acl = ACLS["reader-a"]
    everything = events_api.parse_topics([])
    allowed = events_api.event_permission(
        acl, everything, lambda ns: acl.allow_namespace_operation(ns, "read-job")
    )
    seen = [e for e in events if allowed(e)]
    assert {e.topic for e in seen} >= {"Job", "Allocation", "Evaluation"}
    assert {e.namespace for e in seen} == {"a"}
    assert not any(e.topic == "Node" for e in seen)  # no node:read

    node_acl = ACLS["nodes-a"]
    allowed = events_api.event_permission(node_acl, everything, lambda ns: ns == "a")
    assert any(e.topic == "Node" for e in events if allowed(e))
    with pytest.raises(Exception, match="Permission denied"):
        events_api.event_permission(acl, {"Node": frozenset({"*"})}, lambda ns: True)
