"""Variables with ACLs on (real HTTP, in-process dev agent): Nomad's path
rules (`variables { path "app/*" { capabilities = [...] } }`), list
filtering, and the client node's SecretID reading only its own jobs'
variables, so a `nomadVar` template renders with ACLs on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from controlplane.client import template_hook
from tests.acl_support import auth, bootstrap, make_token
from tests.agents import in_process_agent
from tests.variables_support import run_template_job
from tests.waiting import wait_for

APP_READER = 'namespace "default" { variables { path "app/*" { capabilities = ["read"] } } }'


@pytest.fixture(autouse=True)
def fast_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_hook, "POLL_S", 0.2)


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    data_dir = str(tmp_path_factory.mktemp("vars-acl"))
    with in_process_agent(data_dir=data_dir, node_name="vars-acl", acl_enabled=True) as agent:
        yield agent


@pytest.fixture(scope="module")
def http(acl_agent: Agent) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{acl_agent.config.http_addr}", timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def root(http: httpx.Client) -> dict[str, Any]:
    token = bootstrap(http)
    wait_for(lambda: http.get("/v1/operator/keyring/keys", headers=auth(token)).json(), 10, "a key")
    return token


def test_path_rules_read_write_list(http: httpx.Client, root: dict[str, Any]) -> None:
    for path in ("app/x", "other/x"):
        resp = http.put(f"/v1/var/{path}", headers=auth(root), json={"Items": {"k": path}})
        assert resp.status_code == 200, resp.text
    reader = make_token(http, root, "app-reader", APP_READER)

    got = http.get("/v1/var/app/x", headers=auth(reader))
    assert got.status_code == 200 and got.json()["Items"] == {"k": "app/x"}
    denied = http.put("/v1/var/app/x", headers=auth(reader), json={"Items": {"k": "v"}})
    assert (denied.status_code, denied.text) == (403, "Permission denied")
    assert http.delete("/v1/var/app/x", headers=auth(reader)).status_code == 403
    assert http.get("/v1/var/other/x", headers=auth(reader)).status_code == 403
    listed = http.get("/v1/vars", headers=auth(reader))
    assert [m["Path"] for m in listed.json()] == ["app/x"]
    everywhere = http.get("/v1/vars", params={"namespace": "*"}, headers=auth(reader))
    assert [m["Path"] for m in everywhere.json()] == ["app/x"]
    assert [m["Path"] for m in http.get("/v1/vars", headers=auth(root)).json()] == [
        "app/x",
        "other/x",
    ]
    assert http.get("/v1/var/app/x").status_code == 403  # anonymous
    # a reader losing a CAS race sees the current items; a blind writer would not
    conflict = http.put(
        "/v1/var/app/x", params={"cas": 0}, headers=auth(root), json={"Items": {"k": "v"}}
    )
    assert conflict.status_code == 409 and conflict.json()["Items"] == {"k": "app/x"}
    # the operator keyring needs a management token
    assert http.get("/v1/operator/keyring/keys", headers=auth(reader)).status_code == 403


def test_node_secret_reads_only_its_jobs_variables(
    acl_agent: Agent, http: httpx.Client, root: dict[str, Any]
) -> None:
    assert acl_agent.server is not None and acl_agent.client is not None
    node = acl_agent.server.store.node_by_id(acl_agent.client.node_id)
    assert node is not None and node.secret_id
    http.put("/v1/var/nomad/jobs/nothere", headers=auth(root), json={"Items": {"a": "b"}})
    # no allocation of job "nothere" on the node: nothing to read
    resp = http.get("/v1/var/nomad/jobs/nothere", headers=auth(node.secret_id))
    assert (resp.status_code, resp.text) == (403, "Permission denied")
    resp = http.get("/v1/var/app/x", headers=auth("not-a-known-secret"))
    assert (resp.status_code, resp.text) == (403, "ACL token not found")

    # the template reads nomad/jobs/web with the node's SecretID
    run_template_job(acl_agent, http, auth(root))
