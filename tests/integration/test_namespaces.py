"""Namespaces over real HTTP against an in-process dev agent (server + client,
raw_exec tasks): CRUD, `default`, deletion guarded by live jobs, jobs refused
in unknown namespaces, one job ID in two namespaces, `?namespace=*` lists.
Token-scoped visibility (ACLs enabled) is in test_namespaces_acl.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.job_support import running_allocs
from tests.namespace_support import job_body, put_namespace
from tests.waiting import wait_for


def test_default_namespace_is_always_listed_and_cannot_be_deleted(api: httpx.Client) -> None:
    listed = api.get("/v1/namespaces")
    assert listed.status_code == 200
    assert int(listed.headers["X-Nomad-Index"]) >= 1
    default = next(ns for ns in listed.json() if ns["Name"] == "default")
    assert default["Description"] == "Default shared namespace"
    assert "NodePoolConfiguration" in default and "Quota" in default
    assert api.get("/v1/namespace/default").json()["Name"] == "default"
    resp = api.delete("/v1/namespace/default")
    assert resp.status_code == 400
    assert resp.text == "default namespace can not be deleted"
    assert any(ns["Name"] == "default" for ns in api.get("/v1/namespaces").json())


def test_namespace_crud(api: httpx.Client) -> None:
    resp = put_namespace(api, "crud-1", Description="first", Meta={"team": "infra"})
    assert resp.status_code == 200, resp.text
    created_at = int(resp.headers["X-Nomad-Index"])
    ns = api.get("/v1/namespace/crud-1").json()
    assert ns["Description"] == "first"
    assert ns["Meta"] == {"team": "infra"}
    assert ns["CreateIndex"] == ns["ModifyIndex"] == created_at

    # the list is a blocking query on the namespaces table
    index = int(api.get("/v1/namespaces").headers["X-Nomad-Index"])
    assert put_namespace(api, "crud-1", Description="second").status_code == 200
    blocked = api.get("/v1/namespaces", params={"index": index, "wait": "5s"})
    assert int(blocked.headers["X-Nomad-Index"]) > index
    updated = next(n for n in blocked.json() if n["Name"] == "crud-1")
    assert updated["Description"] == "second"
    assert updated["CreateIndex"] == created_at < updated["ModifyIndex"]

    # create through /v1/namespace (name from the body); prefix filter
    assert api.post("/v1/namespace", json={"Name": "crud-2"}).status_code == 200
    names = [n["Name"] for n in api.get("/v1/namespaces", params={"prefix": "crud-"}).json()]
    assert names == ["crud-1", "crud-2"]

    assert api.delete("/v1/namespace/crud-1").status_code == 200
    missing = api.get("/v1/namespace/crud-1")
    assert missing.status_code == 404
    assert missing.text == "Namespace not found"
    assert api.delete("/v1/namespace/crud-2").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/v1/namespace/bad_name",
            {"Name": "bad_name"},
            'invalid name "bad_name". Must match regex ^[a-zA-Z0-9-]{1,128}$',
        ),
        (
            "/v1/namespace/long",
            {"Name": "long", "Description": "x" * 257},
            "description longer than 256",
        ),
        (
            "/v1/namespace/q",
            {"Name": "q", "Quota": "no-such-quota"},
            'namespace "q" references unknown quota "no-such-quota"',
        ),
        ("/v1/namespace/one", {"Name": "two"}, "Namespace name does not match request path"),
        ("/v1/namespace/m", {"Name": "m", "Meta": {"k": 1}}, "Meta must be an object of strings"),
    ],
)
def test_invalid_namespaces_are_refused(
    api: httpx.Client, path: str, body: dict[str, Any], message: str
) -> None:
    resp = api.put(path, json=body)
    assert resp.status_code == 400
    assert resp.text == message
    assert api.get(f"/v1/namespace/{body['Name']}").status_code == 404


def test_job_in_a_nonexistent_namespace_is_refused(api: httpx.Client) -> None:
    resp = api.put("/v1/jobs", json=job_body("ghost", namespace="nowhere"))
    assert resp.status_code == 400
    assert resp.text == 'job "ghost" is in nonexistent namespace "nowhere"'
    # ?namespace= wins over the spec's namespace, as Nomad resolves it
    resp = api.put("/v1/jobs", params={"namespace": "elsewhere"}, json=job_body("ghost"))
    assert resp.text == 'job "ghost" is in nonexistent namespace "elsewhere"'
    plan = api.put("/v1/job/ghost/plan", params={"namespace": "nowhere"}, json=job_body("ghost"))
    assert plan.status_code == 400
    assert "nonexistent namespace" in plan.text
    assert api.get("/v1/jobs", params={"namespace": "*", "prefix": "ghost"}).json() == []


def test_namespace_task_driver_capabilities_are_enforced(api: httpx.Client) -> None:
    assert (
        put_namespace(api, "no-raw", Capabilities={"DisabledTaskDrivers": ["raw_exec"]}).status_code
        == 200
    )
    resp = api.put("/v1/jobs", json=job_body("rawjob", namespace="no-raw"))
    assert resp.status_code == 400
    assert resp.text == 'used task driver "raw_exec" is not allowed in namespace "no-raw"'


def test_same_job_id_in_two_namespaces_is_two_jobs(api: httpx.Client) -> None:
    for ns in ("twin-a", "twin-b"):
        assert put_namespace(api, ns).status_code == 200
        resp = api.put("/v1/jobs", json=job_body("twin", namespace=ns))
        assert resp.status_code == 200, resp.text
    for ns in ("twin-a", "twin-b"):
        wait_for(lambda ns=ns: running_allocs(api, "twin", ns), what=f"twin running in {ns}")

    everywhere = api.get("/v1/jobs", params={"namespace": "*", "prefix": "twin"}).json()
    assert sorted((j["Namespace"], j["ID"]) for j in everywhere) == [
        ("twin-a", "twin"),
        ("twin-b", "twin"),
    ]
    assert api.get("/v1/jobs", params={"prefix": "twin"}).json() == []  # not in default
    only_a = api.get("/v1/jobs", params={"namespace": "twin-a"}).json()
    assert [(j["Namespace"], j["ID"]) for j in only_a] == [("twin-a", "twin")]

    allocs_a = {a["ID"] for a in api.get("/v1/allocations", params={"namespace": "twin-a"}).json()}
    allocs_all = api.get("/v1/allocations", params={"namespace": "*"}).json()
    twins = {a["ID"]: a["Namespace"] for a in allocs_all if a["JobID"] == "twin"}
    assert set(twins.values()) == {"twin-a", "twin-b"}
    assert allocs_a == {i for i, ns in twins.items() if ns == "twin-a"}
    evals_b = api.get("/v1/evaluations", params={"namespace": "twin-b"}).json()
    assert evals_b and {e["Namespace"] for e in evals_b} == {"twin-b"}

    # stopping one leaves the other running
    assert api.delete("/v1/job/twin", params={"namespace": "twin-a"}).status_code == 200
    wait_for(lambda: not running_allocs(api, "twin", "twin-a"), what="twin-a stopped")
    assert running_allocs(api, "twin", "twin-b")
    assert api.get("/v1/job/twin", params={"namespace": "twin-a"}).json()["Stop"] is True
    assert api.get("/v1/job/twin", params={"namespace": "twin-b"}).json()["Stop"] is False
    api.delete("/v1/job/twin", params={"namespace": "twin-b", "purge": "true"})


def test_namespace_with_a_live_job_cannot_be_deleted(api: httpx.Client) -> None:
    assert put_namespace(api, "busy").status_code == 200
    assert api.put("/v1/jobs", json=job_body("worker", namespace="busy")).status_code == 200
    wait_for(lambda: running_allocs(api, "worker", "busy"), what="worker running")

    refused = api.delete("/v1/namespace/busy")
    assert refused.status_code == 400
    assert refused.text == (
        'namespace "busy" contains at least one non-terminal job "worker". '
        "All jobs must be terminal in namespace before it can be deleted"
    )
    assert api.get("/v1/namespace/busy").status_code == 200

    assert api.delete("/v1/job/worker", params={"namespace": "busy"}).status_code == 200

    def deleted() -> bool:
        return api.delete("/v1/namespace/busy").status_code == 200

    wait_for(deleted, what="namespace deletable once the job is dead")
    assert api.get("/v1/namespace/busy").status_code == 404


def test_purged_job_frees_its_namespace(api: httpx.Client) -> None:
    assert put_namespace(api, "purged").status_code == 200
    assert api.put("/v1/jobs", json=job_body("gone", namespace="purged")).status_code == 200
    assert api.delete("/v1/namespace/purged").status_code == 400
    resp = api.delete("/v1/job/gone", params={"namespace": "purged", "purge": "true"})
    assert resp.status_code == 200
    assert api.delete("/v1/namespace/purged").status_code == 200
