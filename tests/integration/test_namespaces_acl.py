"""Namespaces with ACLs on, end to end over real HTTP: a dev agent started with
ACLs enabled, a bootstrap management token, and a client token whose policy
is `namespace "a" { policy = "write" }`. That token sees and works on
namespace `a`'s jobs, allocations, logs and events, and nothing of `b`'s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from tests.acl_support import auth, bootstrap, make_token
from tests.job_support import running_allocs
from tests.namespace_support import job_body
from tests.waiting import wait_for

POLICY_A = 'namespace "a" {\n  policy = "write"\n}\n'


@pytest.fixture(scope="module")
def world(acl_agent: Agent) -> Iterator[dict[str, Any]]:
    """Management and scoped clients; job `web` running in `a` and in `b`."""
    base = f"http://{acl_agent.config.http_addr}"
    with httpx.Client(base_url=base, timeout=30) as anon:
        mgmt = bootstrap(anon)
        root = httpx.Client(base_url=base, timeout=30, headers=auth(mgmt))
        token = make_token(root, mgmt, "team-a", POLICY_A)
        scoped = httpx.Client(
            base_url=base,
            timeout=30,
            headers={"Authorization": f"Bearer {token['SecretID']}"},
        )
        out: dict[str, Any] = {"root": root, "scoped": scoped, "anon": anon, "base": base}
        for ns in ("a", "b"):
            assert root.put(f"/v1/namespace/{ns}", json={"Name": ns}).status_code == 200
            assert root.put("/v1/jobs", json=job_body("web", namespace=ns)).status_code == 200
        for ns in ("a", "b"):
            running = wait_for(
                lambda ns=ns: running_allocs(root, "web", ns), what=f"web running in {ns}"
            )
            out[f"alloc_{ns}"] = running[0]["ID"]
        try:
            yield out
        finally:
            root.close()
            scoped.close()


def test_anonymous_sees_nothing(world: dict[str, Any]) -> None:
    anon: httpx.Client = world["anon"]
    assert anon.get("/v1/jobs", params={"namespace": "a"}).status_code == 403
    assert anon.get("/v1/namespaces").json() == []


def test_scoped_token_sees_only_its_namespace(world: dict[str, Any]) -> None:
    scoped: httpx.Client = world["scoped"]
    assert [n["Name"] for n in scoped.get("/v1/namespaces").json()] == ["a"]
    jobs = scoped.get("/v1/jobs", params={"namespace": "*"}).json()
    assert [(j["Namespace"], j["ID"]) for j in jobs] == [("a", "web")]
    denied = scoped.get("/v1/jobs", params={"namespace": "b"})
    assert (denied.status_code, denied.text) == (403, "Permission denied")
    assert scoped.get("/v1/job/web", params={"namespace": "b"}).status_code == 403
    assert scoped.get("/v1/job/web", params={"namespace": "a"}).status_code == 200

    allocs = scoped.get("/v1/allocations", params={"namespace": "*"}).json()
    assert {a["Namespace"] for a in allocs} == {"a"}
    assert scoped.get(f"/v1/allocation/{world['alloc_b']}").status_code == 403
    assert scoped.get(f"/v1/allocation/{world['alloc_a']}").status_code == 200
    prefix = scoped.get(
        "/v1/allocations", params={"namespace": "*", "prefix": world["alloc_b"][:6]}
    )
    assert world["alloc_b"] not in {a["ID"] for a in prefix.json()}


def test_scoped_token_writes_only_in_its_namespace(world: dict[str, Any]) -> None:
    scoped: httpx.Client = world["scoped"]
    assert scoped.put("/v1/jobs", json=job_body("extra", namespace="b")).status_code == 403
    assert scoped.put("/v1/namespace/c", json={"Name": "c"}).status_code == 403
    assert scoped.delete("/v1/job/web", params={"namespace": "b"}).status_code == 403
    assert scoped.put(f"/v1/allocation/{world['alloc_b']}/stop").status_code == 403


def test_scoped_token_reads_logs_only_in_its_namespace(world: dict[str, Any]) -> None:
    scoped: httpx.Client = world["scoped"]
    params = {"task": "t", "type": "stdout", "plain": "true"}
    assert scoped.get(f"/v1/client/fs/logs/{world['alloc_b']}", params=params).status_code == 403

    def logged() -> bool:
        resp = scoped.get(f"/v1/client/fs/logs/{world['alloc_a']}", params=params)
        return resp.status_code == 200 and "hi-a" in resp.text

    wait_for(logged, what="alloc a's stdout with the scoped token")


def test_scoped_token_event_stream_shows_only_its_namespace(world: dict[str, Any]) -> None:
    scoped: httpx.Client = world["scoped"]
    root: httpx.Client = world["root"]
    denied = scoped.get("/v1/event/stream", params={"namespace": "b", "topic": "Job"})
    assert denied.status_code == 403
    denied = scoped.get("/v1/event/stream", params={"topic": "Node"})
    assert denied.status_code == 403  # no node:read

    # a marker write in `a`: once a stream has delivered its index, it has
    # replayed (from index 1) every earlier batch, `b`'s registrations included
    marker = root.put("/v1/jobs", json=job_body("marker", namespace="a"))
    assert marker.status_code == 200
    marker_index = int(marker.headers["X-Nomad-Index"])

    def events(client: httpx.Client) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        params = {"namespace": "*", "index": "1"}
        with client.stream("GET", "/v1/event/stream", params=params) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                if not line.strip() or line.strip() == "{}":
                    continue
                batch = json.loads(line)
                seen.extend(batch["Events"])
                if batch["Index"] >= marker_index:
                    break
        return seen

    mine = events(scoped)
    assert {e["Namespace"] for e in mine} == {"a"}
    assert {e["Topic"] for e in mine} <= {"Job", "Evaluation", "Allocation", "Deployment"}
    assert any(e["Topic"] == "Allocation" and e["Key"] == world["alloc_a"] for e in mine)
    everything = events(root)
    assert {"a", "b"} <= {e["Namespace"] for e in everything}
    assert any(e["Topic"] == "Node" for e in everything)
