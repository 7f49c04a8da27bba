"""ACLs over real HTTP: bootstrap, tokens, policies, enforcement, a cluster with ACLs on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from tests.acl_support import auth, bootstrap, make_token
from tests.agents import AgentProcess, in_process_agent
from tests.cli_support import CliResult, run_cli
from tests.job_support import raw_exec_job
from tests.waiting import wait_for

READ_ONLY = 'namespace "default" { policy = "read" }'


def batch_job(job_id: str, command: str = "/bin/true") -> dict[str, Any]:
    return raw_exec_job(job_id, command, job_type="batch")


@pytest.fixture(scope="module")
def http(acl_agent: Agent) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{acl_agent.config.http_addr}", timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def root(http: httpx.Client) -> dict[str, Any]:
    """The bootstrap (management) token."""
    token = bootstrap(http)
    assert token["Type"] == "management" and token["Name"] == "Bootstrap Token"
    return token


def test_anonymous_is_denied_but_status_endpoints_answer(http: httpx.Client) -> None:
    resp = http.get("/v1/jobs")
    assert (resp.status_code, resp.text) == (403, "Permission denied")
    assert http.get("/v1/nodes").status_code == 403
    assert http.get("/v1/status/leader").status_code == 200
    assert http.get("/v1/agent/health").status_code == 200


def test_second_bootstrap_is_refused_with_nomads_message(
    http: httpx.Client, root: dict[str, Any]
) -> None:
    resp = http.put("/v1/acl/bootstrap")
    assert resp.status_code == 400
    assert resp.text == f"ACL bootstrap already done (reset index: {root['CreateIndex']})"


def test_unknown_token_is_refused(http: httpx.Client, acl_agent: Agent) -> None:
    bogus = auth("00000000-0000-0000-0000-000000000000")
    for path in ("/v1/jobs", f"/v1/node/{acl_agent.client.node_id}", "/v1/acl/token/self"):  # type: ignore[union-attr]
        resp = http.get(path, headers=bogus)
        assert (resp.status_code, resp.text) == (403, "ACL token not found"), path
    resp = http.get("/v1/jobs", headers={"Authorization": "Bearer not-a-token"})
    assert (resp.status_code, resp.text) == (403, "ACL token not found")


def test_read_only_token_lists_and_reads_but_cannot_submit(
    http: httpx.Client, root: dict[str, Any]
) -> None:
    assert http.put("/v1/jobs", headers=auth(root), json=batch_job("ro-job")).status_code == 200
    ro = make_token(http, root, "read-only", READ_ONLY)
    listed = http.get("/v1/jobs", headers=auth(ro))
    assert listed.status_code == 200 and "ro-job" in [j["ID"] for j in listed.json()]
    assert http.get("/v1/job/ro-job", headers=auth(ro)).status_code == 200
    resp = http.put("/v1/jobs", headers=auth(ro), json=batch_job("ro-job-2"))
    assert (resp.status_code, resp.text) == (403, "Permission denied")
    # Authorization: Bearer is the same token
    bearer = {"Authorization": f"Bearer {ro['SecretID']}"}
    assert http.get("/v1/jobs", headers=bearer).status_code == 200
    assert http.put("/v1/jobs", headers=bearer, json=batch_job("ro-job-3")).status_code == 403
    # a client token may read its own policy but not others, nor list tokens
    assert http.get("/v1/acl/policy/read-only", headers=auth(ro)).status_code == 200
    assert http.get("/v1/acl/tokens", headers=auth(ro)).status_code == 403
    me = http.get("/v1/acl/token/self", headers=auth(ro)).json()
    assert me["AccessorID"] == ro["AccessorID"] and me["Policies"] == ["read-only"]


def test_policy_update_takes_effect_on_the_next_request(
    http: httpx.Client, root: dict[str, Any]
) -> None:
    tok = make_token(http, root, "grows", READ_ONLY)
    assert http.put("/v1/jobs", headers=auth(tok), json=batch_job("grown")).status_code == 403
    resp = http.put(
        "/v1/acl/policy/grows",
        headers=auth(root),
        json={"Rules": 'namespace "default" { policy = "write" }'},
    )
    assert resp.status_code == 200
    assert http.put("/v1/jobs", headers=auth(tok), json=batch_job("grown")).status_code == 200


def test_management_token_can_do_everything(
    http: httpx.Client, root: dict[str, Any], acl_agent: Agent
) -> None:
    node_id = acl_agent.client.node_id  # type: ignore[union-attr]
    h = auth(root)
    for path in (
        "/v1/nodes",
        f"/v1/node/{node_id}",
        "/v1/agent/self",
        "/v1/agent/members",
        "/v1/operator/raft/configuration",
        "/v1/acl/policies",
        "/v1/acl/tokens",
        "/v1/client/stats",
    ):
        assert http.get(path, headers=h).status_code == 200, path
    resp = http.post(f"/v1/node/{node_id}/eligibility", headers=h, json={"Eligibility": "eligible"})
    assert resp.status_code == 200, resp.text
    assert http.put("/v1/system/gc", headers=h).status_code == 200


def test_token_list_never_carries_a_secret(http: httpx.Client, root: dict[str, Any]) -> None:
    made = make_token(http, root, "listed", READ_ONLY)
    resp = http.get("/v1/acl/tokens", headers=auth(root))
    assert resp.status_code == 200
    stubs = resp.json()
    assert made["AccessorID"] in [t["AccessorID"] for t in stubs]
    assert all("SecretID" not in t for t in stubs)
    assert made["SecretID"] not in resp.text and root["SecretID"] not in resp.text


def test_acl_writes_publish_no_secret_in_events(
    http: httpx.Client, root: dict[str, Any], acl_agent: Agent
) -> None:
    made = make_token(http, root, "evented", READ_ONLY)
    assert acl_agent.server is not None
    events = acl_agent.server.raft.fsm.events
    published = b"".join(e.to_json() for batch in events.since(0) for e in batch.events)
    assert made["SecretID"].encode() not in published
    assert root["SecretID"].encode() not in published


def test_expired_token_is_refused_then_collected(
    http: httpx.Client, root: dict[str, Any], acl_agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert acl_agent.server is not None
    # Nomad's default minimum TTL is a minute; a test cannot wait that long
    monkeypatch.setattr(acl_agent.server, "acl_token_min_ttl_s", 0.0)
    http.put("/v1/acl/policy/brief", headers=auth(root), json={"Rules": READ_ONLY})
    resp = http.put(
        "/v1/acl/token",
        headers=auth(root),
        json={"Name": "brief", "Type": "client", "Policies": ["brief"], "ExpirationTTL": "300ms"},
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert token["ExpirationTime"]

    def refused() -> bool:
        r = http.get("/v1/jobs", headers=auth(token))
        return (r.status_code, r.text) == (403, "ACL token expired")

    wait_for(refused, timeout=10, what="the token to expire")
    assert http.put("/v1/system/gc", headers=auth(root)).status_code == 200
    listed = http.get("/v1/acl/tokens", headers=auth(root)).json()
    assert token["AccessorID"] not in [t["AccessorID"] for t in listed]


def test_token_validation_uses_nomads_messages(http: httpx.Client, root: dict[str, Any]) -> None:
    h = auth(root)
    resp = http.put("/v1/acl/token", headers=h, json={"Type": "client"})
    assert resp.status_code == 400 and "client token missing policies" in resp.text
    resp = http.put(
        "/v1/acl/token", headers=h, json={"Type": "management", "Policies": ["read-only"]}
    )
    assert resp.status_code == 400
    assert "management token cannot be associated with policies" in resp.text
    resp = http.put(
        "/v1/acl/token",
        headers=h,
        json={"Type": "client", "Policies": ["x"], "ExpirationTTL": "1s"},
    )
    assert resp.status_code == 400 and "cannot be less than 1m0s" in resp.text
    resp = http.put(
        "/v1/acl/policy/bad", headers=h, json={"Rules": 'namespace "x" { policy = "reed" }'}
    )
    assert resp.status_code == 400
    assert "policy 0 invalid" in resp.text and "Invalid namespace policy" in resp.text


def test_node_read_token_lists_nodes_but_cannot_drain(
    http: httpx.Client, root: dict[str, Any], acl_agent: Agent
) -> None:
    tok = make_token(http, root, "node-reader", 'node { policy = "read" }')
    node_id = acl_agent.client.node_id  # type: ignore[union-attr]
    assert http.get("/v1/nodes", headers=auth(tok)).status_code == 200
    assert http.get("/v1/agent/members", headers=auth(tok)).status_code == 200
    for path, body in (
        (f"/v1/node/{node_id}/drain", {"DrainSpec": {"Deadline": 0}}),
        (f"/v1/node/{node_id}/eligibility", {"Eligibility": "ineligible"}),
    ):
        resp = http.post(path, headers=auth(tok), json=body)
        assert (resp.status_code, resp.text) == (403, "Permission denied"), path
    # no namespace rule: jobs stay hidden
    assert http.get("/v1/jobs", headers=auth(tok)).status_code == 403


def test_operator_and_agent_endpoints_are_guarded(http: httpx.Client, root: dict[str, Any]) -> None:
    ro = make_token(http, root, "ns-reader", READ_ONLY)
    op = make_token(http, root, "op-reader", 'operator { policy = "read" }')
    assert http.get("/v1/operator/raft/configuration", headers=auth(ro)).status_code == 403
    assert http.get("/v1/operator/raft/configuration", headers=auth(op)).status_code == 200
    resp = http.delete("/v1/operator/raft/peer", headers=auth(op), params={"address": "x:1"})
    assert resp.status_code == 403
    assert http.get("/v1/operator/snapshot", headers=auth(op)).status_code == 403
    assert http.put("/v1/system/gc", headers=auth(op)).status_code == 403
    assert http.get("/v1/agent/self", headers=auth(op)).status_code == 403
    resp = http.put("/v1/agent/join", headers=auth(op), params={"address": "127.0.0.1:1"})
    assert resp.status_code == 403


def test_internal_routes_need_the_nodes_own_secret(
    http: httpx.Client, root: dict[str, Any], acl_agent: Agent
) -> None:
    assert acl_agent.server is not None and acl_agent.client is not None
    node = acl_agent.server.store.node_by_id(acl_agent.client.node_id)
    assert node is not None and node.secret_id
    beat = f"/v1/internal/node/{node.id}/heartbeat"
    assert http.put(beat, json={"Status": "ready"}).status_code == 403
    ro = make_token(http, root, "beat-reader", READ_ONLY)
    assert http.put(beat, headers=auth(ro), json={"Status": "ready"}).status_code == 403
    assert http.put(beat, headers=auth(node.secret_id), json={"Status": "ready"}).status_code == 200
    # the node's secret reads its allocations, not another node's details
    allocs = http.get(f"/v1/node/{node.id}/allocations", headers=auth(node.secret_id))
    assert allocs.status_code == 200
    assert http.get("/v1/nodes", headers=auth(node.secret_id)).status_code == 403
    # re-registering a known node ID with another secret is refused
    stolen = {"Node": {"ID": node.id, "SecretID": "11111111-1111-1111-1111-111111111111"}}
    resp = http.put(
        "/v1/internal/node/register", headers=auth(stolen["Node"]["SecretID"]), json=stolen
    )
    assert resp.status_code == 403 and "node secret ID does not match" in resp.text


def test_acl_endpoints_answer_disabled_without_acls(api: httpx.Client) -> None:
    resp = api.put("/v1/acl/bootstrap")
    assert (resp.status_code, resp.text) == (400, "ACL support disabled")
    # and any token header is ignored
    assert api.get("/v1/jobs", headers=auth("nonsense")).status_code == 200


def _cli(address: str, token: str, *argv: str) -> CliResult:
    return run_cli(address, *argv, env={"NOMAD_TOKEN": token})


def test_cli_acl_commands_end_to_end(tmp_path: Path) -> None:
    with in_process_agent(acl_enabled=True) as agent:
        addr = f"http://{agent.config.http_addr}"
        code, out, err = _cli(addr, "", "acl", "bootstrap")
        assert code == 0, err
        fields = dict(
            (k.strip(), v.strip()) for k, v in (ln.split("=", 1) for ln in out.splitlines())
        )
        assert fields["Name"] == "Bootstrap Token" and fields["Type"] == "management"
        assert fields["Expiry Time"] == "<none>" and fields["Policies"] == "[]"
        secret = fields["Secret ID"]
        code, _, err = _cli(addr, "", "acl", "bootstrap")
        assert code == 1 and "ACL bootstrap already done" in err

        rules = tmp_path / "ro.hcl"
        rules.write_text(READ_ONLY + "\n")
        code, out, err = _cli(
            addr, secret, "acl", "policy", "apply", "-description", "read it", "ro", str(rules)
        )
        assert (code, out) == (0, 'Successfully wrote "ro" ACL policy!\n'), err
        code, out, _ = _cli(addr, secret, "acl", "policy", "list")
        assert out.splitlines()[0].split() == ["Name", "Description"]
        assert "ro" in out and "read it" in out
        code, out, _ = _cli(addr, secret, "acl", "policy", "info", "ro")
        assert "Description = read it" in out and READ_ONLY in out

        code, out, err = _cli(
            addr, secret, "acl", "token", "create", "-name", "ci", "-policy", "ro", "-ttl", "1h"
        )
        assert code == 0, err
        made = dict(
            (k.strip(), v.strip()) for k, v in (ln.split("=", 1) for ln in out.splitlines())
        )
        assert made["Policies"] == "[ro]" and made["Expiry Time"] != "<none>"
        code, out, _ = _cli(addr, secret, "acl", "token", "list")
        assert out.splitlines()[0].split() == [
            "Name",
            "Type",
            "Global",
            "Accessor",
            "ID",
            "Expired",
        ]
        assert made["Accessor ID"] in out and made["Secret ID"] not in out

        code, out, _ = _cli(addr, made["Secret ID"], "acl", "token", "self")
        assert code == 0 and f"Accessor ID  = {made['Accessor ID']}" in out
        # the read-only token cannot list tokens
        code, _, err = _cli(addr, made["Secret ID"], "acl", "token", "list")
        assert code == 1 and "Permission denied" in err
        # the global -token flag wins over NOMAD_TOKEN
        code, out, err = _cli(addr, "", "-token", made["Secret ID"], "acl", "token", "self")
        assert code == 0, err

        code, out, err = _cli(
            addr, secret, "acl", "token", "update", "-name", "renamed", made["Accessor ID"]
        )
        assert code == 0 and "Name         = renamed" in out, err
        code, out, _ = _cli(addr, secret, "acl", "token", "info", made["Accessor ID"])
        assert "renamed" in out and made["Secret ID"] in out
        code, out, _ = _cli(addr, secret, "acl", "token", "delete", made["Accessor ID"])
        assert out == f"Token {made['Accessor ID']} successfully deleted\n"
        code, _, err = _cli(addr, made["Secret ID"], "status")
        assert code == 1 and "ACL token not found" in err
        code, out, _ = _cli(addr, secret, "acl", "policy", "delete", "ro")
        assert out == 'Successfully deleted "ro" ACL policy!\n'


def test_cluster_with_acls_runs_a_raw_exec_job(tmp_path: Path) -> None:
    """Server and client processes with ACLs on: the client authenticates with
    its node SecretID; a client-only agent resolves tokens through the server."""
    server = AgentProcess(
        ["-server", "-acl-enabled", "-data-dir", str(tmp_path / "server")],
        tmp_path / "server.log",
    ).start()
    client = None
    try:
        root = httpx.put(f"{server.address}/v1/acl/bootstrap").json()
        h = auth(root)

        def registered(_: AgentProcess) -> bool:
            nodes = httpx.get(f"{server.address}/v1/nodes", headers=h, timeout=2).json()
            return any(n["Status"] == "ready" for n in nodes)

        config = tmp_path / "client.hcl"
        config.write_text("acl {\n  enabled = true\n}\n")
        client = AgentProcess(
            [
                "-client",
                "-config",
                str(config),
                "-servers",
                f"127.0.0.1:{server.http_port}",
                "-node",
                "acl-worker",
                "-data-dir",
                str(tmp_path / "client"),
            ],
            tmp_path / "client.log",
            ready=registered,
        ).start()

        job = batch_job("secured", "echo secured run")
        assert httpx.put(f"{server.address}/v1/jobs", json=job).status_code == 403
        resp = httpx.put(f"{server.address}/v1/jobs", headers=h, json=job)
        assert resp.status_code == 200, resp.text

        def complete() -> dict[str, Any] | None:
            allocs = httpx.get(f"{server.address}/v1/job/secured/allocations", headers=h).json()
            return next((a for a in allocs if a["ClientStatus"] == "complete"), None)

        alloc = wait_for(complete, timeout=30, what="raw_exec alloc complete with ACLs on")
        params = {"task": "t", "type": "stdout", "plain": "true"}
        path = f"/v1/client/fs/logs/{alloc['ID']}"
        # through the server (proxied with the caller's token) and on the client itself
        logs = httpx.get(f"{server.address}{path}", headers=h, params=params)
        assert (logs.status_code, logs.text) == (200, "secured run\n")
        direct = httpx.get(f"{client.address}{path}", headers=h, params=params)
        assert (direct.status_code, direct.text) == (200, "secured run\n")
        # the client agent refuses what its server would refuse
        assert httpx.get(f"{client.address}{path}", params=params).status_code == 403
        bogus = auth("00000000-0000-0000-0000-000000000000")
        denied = httpx.get(f"{client.address}{path}", headers=bogus, params=params)
        assert (denied.status_code, denied.text) == (403, "ACL token not found")
    finally:
        if client is not None:
            client.kill()
        server.kill()
