"""Nomad Variables over real HTTP on a dev agent: put/get/list/purge through
the API and the CLI, check-and-set (409 with Nomad's body), path rules, the
root keyring (rotate, full rekey, refusals), and a template that renders a
variable and re-renders (restarting the task) when it changes.

Encryption at rest, key fetching by followers and CAS races between servers
are in test_variables_cluster.py; ACL path rules in test_variables_acl.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.client import template_hook
from controlplane.structs import to_builtins
from tests.cli_support import CliResult, run_cli
from tests.variables_support import run_template_job
from tests.waiting import wait_for


@pytest.fixture(autouse=True)
def fast_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    # template hooks created from now on poll the servers every 0.2 s (default 2 s)
    monkeypatch.setattr(template_hook, "POLL_S", 0.2)


@pytest.fixture(scope="module")
def keyed(api: httpx.Client) -> httpx.Client:
    """The API once the leader has made the first root key."""
    wait_for(lambda: api.get("/v1/operator/keyring/keys").json(), 10, "the first root key")
    return api


def cli(agent: Agent, *argv: str, stdin: str = "") -> CliResult:
    return run_cli(f"http://{agent.config.http_addr}", *argv, stdin=stdin)


@pytest.fixture
def clean(keyed: httpx.Client) -> Iterator[httpx.Client]:
    yield keyed
    for meta in keyed.get("/v1/vars", params={"namespace": "*"}).json():
        keyed.delete(f"/v1/var/{meta['Path']}", params={"namespace": meta["Namespace"]})


def test_put_get_list_purge_through_the_cli(dev_agent: Agent, clean: httpx.Client) -> None:
    put = cli(dev_agent, "var", "put", "app/db", "user=admin", "password=s3cret")
    assert put.code == 0, put.err
    assert put.out.startswith('Created variable "app/db" with modify index ')

    got = cli(dev_agent, "var", "get", "-out", "table", "app/db")
    assert got.code == 0, got.err
    assert "Path        = app/db" in got.out
    assert "password = s3cret\nuser     = admin" in got.out
    assert cli(dev_agent, "var", "get", "-item", "password", "app/db").out == "s3cret\n"

    raw = clean.get("/v1/var/app/db").json()
    assert raw["Items"] == {"user": "admin", "password": "s3cret"}
    assert raw["CreateIndex"] == raw["ModifyIndex"] > 0 and raw["CreateTime"] > 0

    # a second put replaces the items (Nomad's put is not a merge)
    again = cli(dev_agent, "var", "put", "-out", "json", "app/db", "user=root")
    assert again.code == 0, again.err
    assert '"user": "root"' in again.out and "password" not in again.out

    spec = '{"Path": "app/cache", "Items": {"ttl": "30"}}'
    assert cli(dev_agent, "var", "put", "-in", "json", "-", stdin=spec).code == 0
    listed = cli(dev_agent, "var", "list", "app/")
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split() == ["Namespace", "Path", "Last", "Updated"]
    assert [ln.split()[1] for ln in lines[1:]] == ["app/cache", "app/db"]
    metas = clean.get("/v1/vars", params={"prefix": "app/"}).json()
    assert [m["Path"] for m in metas] == ["app/cache", "app/db"]
    assert all("Items" not in m for m in metas)

    purge = cli(dev_agent, "var", "purge", "app/db")
    assert (purge.code, purge.out) == (0, 'Successfully purged variable "app/db"!\n')
    resp = clean.get("/v1/var/app/db")
    assert (resp.status_code, resp.text) == (404, "variable not found")
    missing = cli(dev_agent, "var", "get", "app/db")
    assert missing.code == 1 and "variable not found" in missing.err


def test_check_and_set(dev_agent: Agent, clean: httpx.Client) -> None:
    first = clean.put("/v1/var/cas/x", params={"cas": 0}, json={"Items": {"v": "1"}})
    assert first.status_code == 200, first.text
    created = first.json()

    # cas=0 means "must not exist": the second create loses, with the current variable
    second = clean.put("/v1/var/cas/x", params={"cas": 0}, json={"Items": {"v": "2"}})
    assert second.status_code == 409
    assert second.json() == created
    assert second.headers["X-Nomad-Index"] == str(created["ModifyIndex"])

    ok = clean.put(
        "/v1/var/cas/x", params={"cas": created["ModifyIndex"]}, json={"Items": {"v": "3"}}
    )
    assert ok.status_code == 200, ok.text
    updated = ok.json()
    assert updated["ModifyIndex"] > created["ModifyIndex"]
    assert updated["CreateIndex"] == created["CreateIndex"]

    stale = clean.put(
        "/v1/var/cas/x", params={"cas": created["ModifyIndex"]}, json={"Items": {"v": "4"}}
    )
    assert stale.status_code == 409
    assert stale.json()["Items"] == {"v": "3"}
    assert stale.json()["ModifyIndex"] == updated["ModifyIndex"]

    # a CAS on a variable that does not exist conflicts with an empty one
    ghost = clean.put("/v1/var/cas/ghost", params={"cas": 7}, json={"Items": {"v": "1"}})
    assert ghost.status_code == 409
    assert ghost.json()["ModifyIndex"] == 0 and ghost.json()["Items"] is None

    gone = clean.delete("/v1/var/cas/x", params={"cas": created["ModifyIndex"]})
    assert gone.status_code == 409
    res = cli(dev_agent, "var", "put", "-check-index", "1", "cas/x", "v=5")
    assert res.code == 1
    assert f"server-side index ({updated['ModifyIndex']})" in res.err
    assert "Check-and-Set conflict" in res.err
    deleted = clean.delete("/v1/var/cas/x", params={"cas": updated["ModifyIndex"]})
    assert deleted.status_code == 204
    assert clean.get("/v1/var/cas/x").status_code == 404


@pytest.mark.parametrize(
    ("path", "items", "message"),
    [
        ("nomad", {"a": "b"}, '"nomad" is a reserved top-level directory path'),
        ("nomad/other", {"a": "b"}, 'only paths at "nomad/jobs" or "nomad/job-templates"'),
        ("bad%20path", {"a": "b"}, "invalid path 'bad path'"),
        ("a/%2e%2e/b", {"a": "b"}, "invalid path 'a/../b'"),
        ("ok/path", {}, "variable missing required Items object"),
        ("ok/path", {"n": 1}, "the value of 'n' must be a string"),
    ],
)
def test_invalid_writes_are_refused(
    clean: httpx.Client, path: str, items: dict[str, Any], message: str
) -> None:
    resp = clean.put(f"/v1/var/{path}", json={"Items": items})
    assert resp.status_code == 400
    assert message in resp.text


def test_job_paths_under_nomad_are_allowed(clean: httpx.Client) -> None:
    resp = clean.put("/v1/var/nomad/jobs/web/g/t", json={"Items": {"a": "b"}})
    assert resp.status_code == 200, resp.text


def test_rotate_full_rekeys_and_removal_rules(dev_agent: Agent, clean: httpx.Client) -> None:
    assert clean.put("/v1/var/rk/a", json={"Items": {"k": "alpha"}}).status_code == 200
    old = next(k for k in clean.get("/v1/operator/keyring/keys").json() if k["State"] == "active")
    assert dev_agent.server is not None
    store = dev_agent.server.store
    assert store.variable("default", "rk/a").key_id == old["KeyID"]  # type: ignore[union-attr]

    # the active key, and a key still sealing variables, cannot go
    resp = clean.delete(f"/v1/operator/keyring/key/{old['KeyID']}")
    assert (resp.status_code, resp.text) == (
        400,
        "active root key cannot be deleted - call rotate first",
    )
    plain = cli(dev_agent, "operator", "root", "keyring", "rotate", "-verbose")
    assert plain.code == 0, plain.err
    new_id = plain.out.splitlines()[1].split()[0]
    assert store.variable("default", "rk/a").key_id == old["KeyID"]  # type: ignore[union-attr]
    resp = clean.delete(f"/v1/operator/keyring/key/{old['KeyID']}")
    assert (resp.status_code, resp.text) == (400, "root key in use, cannot delete")

    full = cli(dev_agent, "operator", "root", "keyring", "rotate", "-full", "-verbose")
    assert full.code == 0, full.err
    newest = full.out.splitlines()[1].split()[0]
    assert newest not in (new_id, old["KeyID"])
    assert store.variable("default", "rk/a").key_id == newest  # type: ignore[union-attr]
    assert clean.get("/v1/var/rk/a").json()["Items"] == {"k": "alpha"}
    states = {k["KeyID"]: k["State"] for k in clean.get("/v1/operator/keyring/keys").json()}
    assert states[newest] == "active" and states[old["KeyID"]] == "inactive"

    removed = cli(dev_agent, "operator", "root", "keyring", "remove", old["KeyID"])
    assert (removed.code, removed.out) == (0, f"Removed encryption key {old['KeyID']}\n")
    listed = cli(dev_agent, "operator", "root", "keyring", "list", "-verbose")
    assert old["KeyID"] not in listed.out and newest in listed.out
    assert clean.put("/v1/var/rk/b", json={"Items": {"k": "beta"}}).json()["Items"] == {"k": "beta"}


def test_template_renders_a_variable_and_restarts_on_change(
    dev_agent: Agent, keyed: httpx.Client
) -> None:
    run_template_job(dev_agent, keyed, {})


def test_the_example_job_reads_its_variable(dev_agent: Agent, keyed: httpx.Client) -> None:
    text = (Path(__file__).parents[2] / "examples" / "variables.nomad").read_text()
    job = jobspec.parse_job(text, "variables.nomad")
    resp = keyed.put("/v1/jobs", json={"Job": to_builtins(job)})
    assert resp.status_code == 200, resp.text
    keyed.put("/v1/var/nomad/jobs/var-greeter", json={"Items": {"greeting": "hi"}})
    alloc = wait_for(
        lambda: next(
            (
                a
                for a in keyed.get("/v1/job/var-greeter/allocations").json()
                if a["ClientStatus"] == "running"
            ),
            None,
        ),
        30,
        "the example running",
    )
    assert dev_agent.client is not None
    out = dev_agent.client.alloc_dir(alloc["ID"]) / "greeter" / "local" / "greeting"
    assert out.read_text() == "hi"
    keyed.delete("/v1/job/var-greeter", params={"purge": "true"})
    keyed.delete("/v1/var/nomad/jobs/var-greeter")
