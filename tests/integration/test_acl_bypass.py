"""Attempts to get around the ACLs over real HTTP, against an in-process dev
agent with ACLs on: every route of api/app.py asked by four callers — no
token, an unknown token, a client token for namespace `a`
(`namespace "a" { policy = "write" }`) and the node's SecretID — about
objects of namespace `b` (a running job with a service registration, its
eval, a periodic and a parameterized job, variables). Also: the `*`
namespace sentinel on single-object routes, body namespaces on writes,
secrets in answers, and the region middleware's hop header.

Each probe is a regression guard: a 2xx where a 403 is expected means a hole.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from controlplane.structs import ServiceRegistration, registration_id, to_builtins
from tests.acl_support import auth, bootstrap, make_token
from tests.job_support import raw_exec_job, running_allocs
from tests.namespace_support import job_body
from tests.waiting import wait_for

# namespace `a` (its variables too: a namespace policy grants none here)
POLICY_A = """
namespace "a" {
  policy = "write"
  variables {
    path "*" { capabilities = ["write", "read", "list", "destroy"] }
  }
}
"""
POLICY_A_NODE = POLICY_A + 'node {\n  policy = "read"\n}\n'
# every namespace but b: `*` passed as a namespace name must not reach b
POLICY_ALL_BUT_B = 'namespace "*" {\n  policy = "write"\n}\nnamespace "b" {\n  policy = "deny"\n}\n'
CALLERS = ("anon", "unknown", "a", "node")
NOT_FOUND_TOKEN = "ACL token not found"


@pytest.fixture(scope="module")
def world(acl_agent: Agent) -> Iterator[dict[str, Any]]:
    base = f"http://{acl_agent.config.http_addr}"
    assert acl_agent.server is not None
    with httpx.Client(base_url=base, timeout=30) as api:
        mgmt = bootstrap(api)
        root = httpx.Client(base_url=base, timeout=30, headers=auth(mgmt))
        w: dict[str, Any] = {"api": api, "root": root, "mgmt": mgmt, "base": base}
        w["a"] = make_token(root, mgmt, "team-a", POLICY_A)
        w["a_node"] = make_token(root, mgmt, "team-a-node", POLICY_A_NODE)
        w["all_but_b"] = make_token(root, mgmt, "all-but-b", POLICY_ALL_BUT_B)
        for ns in ("a", "b"):
            assert root.put(f"/v1/namespace/{ns}", json={"Name": ns}).status_code == 200
            assert root.put("/v1/jobs", json=job_body("web", namespace=ns)).status_code == 200
        for ns in ("a", "b"):
            alloc: dict[str, Any] = wait_for(
                functools.partial(_first_running, root, ns), what=f"web running in {ns}"
            )
            w[f"alloc_{ns}"] = alloc["ID"]
            w[f"eval_{ns}"] = alloc["EvalID"]
            reg = ServiceRegistration(
                id=registration_id(alloc["ID"], "t", "app", f"svc-{ns}", "p80"),
                service_name=f"svc-{ns}",
                alloc_id=alloc["ID"],
                address="127.0.0.1",
                port=80,
                namespace=ns,
                job_id="web",
            )
            resp = root.put(
                "/v1/internal/services", json={"Upserts": [to_builtins(reg)], "DeleteIDs": []}
            )
            assert resp.status_code == 200, resp.text
            w[f"reg_{ns}"] = reg.id
            for path in ("nomad/jobs/web", "secret/db"):
                resp = root.put(
                    f"/v1/var/{path}", params={"namespace": ns}, json={"Items": {"k": f"v-{ns}"}}
                )
                assert resp.status_code == 200, resp.text
        periodic = {"Specs": ["0 0 1 1 *"], "TimeZone": "UTC"}
        cron = raw_exec_job("cron", job_type="batch", Namespace="b", Periodic=periodic)
        assert root.put("/v1/jobs", json=cron).status_code == 200
        param = raw_exec_job("param", job_type="batch", Namespace="b", ParameterizedJob={})
        assert root.put("/v1/jobs", json=param).status_code == 200
        node = next(iter(acl_agent.server.store.nodes()))
        w["node_id"], w["node_secret"] = node.id, node.secret_id
        w["mgmt_accessor"] = mgmt["AccessorID"]
        try:
            yield w
        finally:
            root.close()


def _first_running(api: httpx.Client, ns: str) -> dict[str, Any] | None:
    return next(iter(running_allocs(api, "web", ns)), None)


def _client(world: dict[str, Any], caller: str) -> httpx.Client:
    secret = {
        "anon": "",
        "unknown": str(uuid.uuid4()),
        "a": world["a"]["SecretID"],
        "node": world["node_secret"],
        "a_node": world["a_node"]["SecretID"],
        "all_but_b": world["all_but_b"]["SecretID"],
    }[caller]
    headers = {"X-Nomad-Token": secret} if secret else {}
    return httpx.Client(base_url=world["base"], timeout=30, headers=headers)


def _denied_message(caller: str, path: str) -> str:
    # an unknown secret is told so, and so is a node's SecretID (no ACL token),
    # except on variables, where a known node's is merely not allowed
    if caller == "unknown" or (caller == "node" and not path.startswith("/v1/var")):
        return NOT_FOUND_TOKEN
    return "Permission denied"


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None


def _job_write(job_id: str, ns: str) -> dict[str, Any]:
    return raw_exec_job(job_id, Namespace=ns)


B = {"namespace": "b"}
# routes every one of the four callers must be refused on (b's objects, or
# rights none of them holds: node, agent, operator, quota, management)
DENIED = [
    Probe("GET", "/v1/jobs", B),
    Probe("PUT", "/v1/jobs", {}, _job_write("intruder", "b")),
    Probe("PUT", "/v1/jobs/parse", B, {"JobHCL": 'job "x" {}'}),
    Probe("GET", "/v1/job/web", B),
    Probe("POST", "/v1/job/web", B, _job_write("web", "b")),
    Probe("DELETE", "/v1/job/web", B),
    Probe("GET", "/v1/job/web/allocations", B),
    Probe("GET", "/v1/job/web/evaluations", B),
    Probe("GET", "/v1/job/web/deployments", B),
    Probe("GET", "/v1/job/web/deployment", B),
    Probe("GET", "/v1/job/web/versions", B),
    Probe("GET", "/v1/job/web/summary", B),
    Probe("GET", "/v1/job/web/scale", B),
    Probe("GET", "/v1/job/web/services", B),
    Probe("POST", "/v1/job/web/plan", {}, _job_write("web", "b")),
    Probe("POST", "/v1/job/web/scale", B, {"Count": 0, "Target": {"Group": "app"}}),
    Probe("POST", "/v1/job/web/revert", B, {"JobID": "web", "JobVersion": 0}),
    Probe("POST", "/v1/job/web/stable", B, {"JobID": "web", "JobVersion": 0, "Stable": True}),
    Probe("POST", "/v1/job/web/evaluate", B, {}),
    Probe("POST", "/v1/job/param/dispatch", B, {}),
    Probe("POST", "/v1/job/cron/periodic/force", B),
    Probe("GET", "/v1/nodes"),
    Probe("PUT", "/v1/node/{node_id}/eligibility", {}, {"Eligibility": "ineligible"}),
    Probe("PUT", "/v1/node/{node_id}/drain", {}, {"DrainSpec": {"Deadline": 0}}),
    Probe("GET", "/v1/allocations", B),
    Probe("GET", "/v1/allocation/{alloc_b}"),
    Probe("POST", "/v1/allocation/{alloc_b}/stop"),
    Probe("GET", "/v1/allocation/{alloc_b}/services"),
    Probe("GET", "/v1/services", B),
    Probe("GET", "/v1/service/svc-b", B),
    Probe("DELETE", "/v1/service/svc-b/{reg_b}", B),
    Probe("GET", "/v1/event/stream", {"namespace": "b", "topic": "Job"}),
    Probe("GET", "/v1/event/stream", {"topic": "ACLToken"}),
    Probe("GET", "/v1/event/stream", {"topic": "Node"}),
    Probe("GET", "/v1/evaluations", B),
    Probe("GET", "/v1/evaluation/{eval_b}"),
    Probe("GET", "/v1/evaluation/{eval_b}/allocations"),
    Probe("GET", "/v1/deployments", B),
    Probe("GET", "/v1/agent/members"),
    Probe("GET", "/v1/quotas"),
    Probe("GET", "/v1/quota-usages"),
    Probe("PUT", "/v1/quota", {}, {"Name": "q", "Limits": []}),
    Probe("PUT", "/v1/system/gc"),
    Probe("PUT", "/v1/agent/join", {"address": "127.0.0.1:1"}),
    Probe("PUT", "/v1/agent/force-leave", {"node": "x"}),
    Probe("GET", "/v1/operator/raft/configuration"),
    Probe("DELETE", "/v1/operator/raft/peer", {"address": "127.0.0.1:1"}),
    Probe("GET", "/v1/operator/snapshot"),
    Probe("GET", "/v1/var/secret/db", B),
    Probe("PUT", "/v1/var/secret/db", B, {"Items": {"k": "stolen"}}),
    Probe("PUT", "/v1/var/secret/db", {}, {"Namespace": "b", "Items": {"k": "stolen"}}),
    Probe("DELETE", "/v1/var/secret/db", B),
    Probe("GET", "/v1/operator/keyring/keys"),
    Probe("PUT", "/v1/operator/keyring/rotate"),
    Probe("DELETE", "/v1/operator/keyring/key/x"),
    Probe("PUT", "/v1/namespace", {}, {"Name": "c"}),
    Probe("PUT", "/v1/namespace/c", {}, {"Name": "c"}),
    Probe("GET", "/v1/namespace/b"),
    Probe("DELETE", "/v1/namespace/b"),
    Probe("GET", "/v1/acl/tokens"),
    Probe("PUT", "/v1/acl/token", {}, {"Type": "management"}),
    Probe("GET", "/v1/acl/token/{mgmt_accessor}"),
    Probe("PUT", "/v1/acl/token/{mgmt_accessor}", {}, {"Type": "client", "Policies": ["x"]}),
    Probe("DELETE", "/v1/acl/token/{mgmt_accessor}"),
    Probe("GET", "/v1/acl/policy/all-but-b"),
    Probe("PUT", "/v1/acl/policy/team-a", {}, {"Name": "team-a", "Rules": 'namespace "*" {}'}),
    Probe("DELETE", "/v1/acl/policy/team-a"),
    Probe("GET", "/v1/agent/self"),
    Probe("GET", "/v1/client/stats"),
    Probe("GET", "/v1/client/fs/logs/{alloc_b}", {"task": "t", "type": "stdout"}),
    Probe("GET", "/v1/client/allocation/{alloc_b}/stats"),
    Probe("PUT", "/v1/client/allocation/{alloc_b}/restart", {}, {}),
    Probe("PUT", "/v1/client/allocation/{alloc_b}/signal", {}, {"Signal": "SIGKILL"}),
]
# what the node SecretID may do that the others may not (Nomad's client
# RPCs, its own node, the variables of its allocations' jobs)
NODE_ONLY = [
    Probe("GET", "/v1/node/{node_id}"),
    Probe("GET", "/v1/node/{node_id}/allocations"),
    Probe("PUT", "/v1/internal/node/{node_id}/heartbeat", {}, {"Status": "ready"}),
    Probe("GET", "/v1/var/nomad/jobs/web", B),
    Probe("PUT", "/v1/internal/allocs/update", {}, {"Allocs": []}),
]
# answered whatever the token, unknown ones included
OPEN = [
    Probe("GET", "/v1/status/leader"),
    Probe("GET", "/v1/status/peers"),
    Probe("GET", "/v1/regions"),
    Probe("GET", "/v1/agent/health"),
    Probe("GET", "/v1/openapi.json"),
]


def _send(client: httpx.Client, probe: Probe, world: dict[str, Any]) -> httpx.Response:
    path = probe.path.format(**{k: v for k, v in world.items() if isinstance(v, str)})
    kwargs: dict[str, Any] = {"params": probe.params}
    if probe.body is not None:
        kwargs["json"] = probe.body
    with client.stream(probe.method, path, **kwargs) as resp:
        if resp.status_code == 200 and path == "/v1/event/stream":
            return resp  # an open stream: its status is the answer
        resp.read()
        return resp


def _id(probe: Probe) -> str:
    qs = "&".join(f"{k}={v}" for k, v in probe.params.items())
    return f"{probe.method} {probe.path}{'?' + qs if qs else ''}"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("probe", DENIED, ids=_id)
def test_refused(world: dict[str, Any], probe: Probe, caller: str) -> None:
    with _client(world, caller) as client:
        resp = _send(client, probe, world)
    assert resp.status_code == 403, (resp.status_code, resp.text)
    assert resp.text == _denied_message(caller, probe.path)


@pytest.mark.parametrize("caller", ("anon", "unknown", "a"))
@pytest.mark.parametrize("probe", NODE_ONLY, ids=_id)
def test_node_routes_refused_without_node_secret(
    world: dict[str, Any], probe: Probe, caller: str
) -> None:
    with _client(world, caller) as client:
        resp = _send(client, probe, world)
    assert resp.status_code == 403, (resp.status_code, resp.text)


@pytest.mark.parametrize("probe", NODE_ONLY, ids=_id)
def test_node_secret_does_its_own_node_work(world: dict[str, Any], probe: Probe) -> None:
    with _client(world, "node") as client:
        resp = _send(client, probe, world)
    assert resp.status_code == 200, resp.text
    assert world["node_secret"] not in resp.text


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("probe", OPEN, ids=_id)
def test_open_routes(world: dict[str, Any], probe: Probe, caller: str) -> None:
    with _client(world, caller) as client:
        resp = _send(client, probe, world)
    assert resp.status_code == 200, resp.text


def test_node_secret_stays_on_its_node(world: dict[str, Any]) -> None:
    other = str(uuid.uuid4())
    with _client(world, "node") as node:
        for probe in (
            Probe("GET", f"/v1/node/{other}"),
            Probe("GET", f"/v1/node/{other}/allocations"),
            Probe("PUT", f"/v1/internal/node/{other}/heartbeat", {}, {"Status": "ready"}),
            # its allocation's job's variables only, and never for writing
            Probe("PUT", "/v1/var/nomad/jobs/web", B, {"Items": {"k": "x"}}),
            Probe("GET", "/v1/var/nomad/jobs/cron", B),
            Probe("GET", "/v1/acl/token/self"),
        ):
            resp = _send(node, probe, world)
            assert resp.status_code == 403, (probe, resp.text)
        listed = node.get("/v1/vars", params={"namespace": "*"}).json()
        assert {(v["Namespace"], v["Path"]) for v in listed} == {
            ("a", "nomad/jobs/web"),
            ("b", "nomad/jobs/web"),
        }


def test_unknown_token_cannot_register_over_a_known_node(world: dict[str, Any]) -> None:
    node = world["root"].get(f"/v1/node/{world['node_id']}").json()
    node["SecretID"] = "forged-" + str(uuid.uuid4())
    with _client(world, "unknown") as client:
        resp = client.put("/v1/internal/node/register", json={"Node": node})
    assert resp.status_code == 403


def test_a_token_lists_nothing_of_b(world: dict[str, Any]) -> None:
    with _client(world, "a") as a:
        for path in ("/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/deployments"):
            found = a.get(path, params={"namespace": "*"}).json()
            assert {o["Namespace"] for o in found} <= {"a"}, (path, found)
            assert found or path == "/v1/deployments", path
        services = a.get("/v1/services", params={"namespace": "*"}).json()
        assert [s["Namespace"] for s in services] == ["a"]
        regs = a.get("/v1/service/svc-b", params={"namespace": "*"}).json()
        assert regs == []
        variables = a.get("/v1/vars", params={"namespace": "*"}).json()
        assert {v["Namespace"] for v in variables} == {"a"}
        assert a.get("/v1/vars", params={"namespace": "b"}).json() == []
        prefix = a.get(
            "/v1/evaluations", params={"namespace": "*", "prefix": world["eval_b"][:4]}
        ).json()
        assert world["eval_b"] not in {e["ID"] for e in prefix}
        assert [n["Name"] for n in a.get("/v1/namespaces").json()] == ["a"]
        policies = a.get("/v1/acl/policies").json()
        assert [p["Name"] for p in policies] == ["team-a"]
        assert a.get("/v1/acl/token/self").json()["AccessorID"] == world["a"]["AccessorID"]


def test_node_read_token_sees_only_its_namespaces_allocations_of_a_node(
    world: dict[str, Any],
) -> None:
    with _client(world, "a_node") as client:
        allocs = client.get(f"/v1/node/{world['node_id']}/allocations").json()
    assert {a["Namespace"] for a in allocs} == {"a"}


def test_body_namespace_does_not_move_a_write_into_b(world: dict[str, Any]) -> None:
    root: httpx.Client = world["root"]
    with _client(world, "a") as a:
        # ?namespace= wins over the body's Namespace (Nomad's namespaceForJob)
        body = {**raw_exec_job("moved", Namespace="b"), "Namespace": "b"}
        resp = a.put("/v1/jobs", params={"namespace": "a"}, json=body)
        assert resp.status_code == 200, resp.text
        resp = a.put(
            "/v1/var/moved", params={"namespace": "a"}, json={"Namespace": "b", "Items": {"k": "v"}}
        )
        assert resp.status_code == 200, resp.text
        # a plan names b's job by its own Namespace: refused, no diff against b's
        plan = a.post("/v1/job/web/plan", json={**_job_write("web", "b"), "Diff": True})
        assert plan.status_code == 403
    assert root.get("/v1/job/moved", params={"namespace": "a"}).status_code == 200
    assert root.get("/v1/job/moved", params={"namespace": "b"}).status_code == 404
    assert root.get("/v1/var/moved", params={"namespace": "b"}).status_code == 404
    root.delete("/v1/job/moved", params={"namespace": "a", "purge": "true"})


@pytest.mark.parametrize("caller", ("a", "all_but_b"))
def test_star_namespace_reaches_no_single_object_of_b(world: dict[str, Any], caller: str) -> None:
    """`?namespace=*` is a list sentinel: a token with a right in SOME
    namespace passes a check on `*`, so a single-object route must not
    treat `*` as "any namespace" (a service registration of b was deletable)."""
    root: httpx.Client = world["root"]
    star = {"namespace": "*"}
    with _client(world, caller) as client:
        resp = client.delete(f"/v1/service/svc-b/{world['reg_b']}", params=star)
        assert resp.status_code in (403, 404), resp.text
        for probe in (
            Probe("GET", "/v1/job/web", star),
            Probe("GET", "/v1/job/web/allocations", star),
            Probe("GET", "/v1/job/web/evaluations", star),
            Probe("GET", "/v1/job/web/summary", star),
            Probe("GET", "/v1/job/web/services", star),
            Probe("GET", "/v1/job/web/versions", star),
            Probe("GET", "/v1/var/secret/db", star),
        ):
            resp = _send(client, probe, world)
            assert resp.status_code in (200, 403, 404), (probe, resp.text)
            for secret in ("v-b", world["alloc_b"], world["eval_b"], '"Namespace":"b"'):
                assert secret not in resp.text, (probe, resp.text)
        for probe in (
            Probe("DELETE", "/v1/job/web", star),
            Probe("POST", "/v1/job/web/evaluate", star, {}),
            Probe("POST", "/v1/job/param/dispatch", star, {}),
            Probe("POST", "/v1/job/cron/periodic/force", star),
            Probe("DELETE", "/v1/var/secret/db", star),
        ):
            resp = _send(client, probe, world)
            assert resp.status_code >= 400 or resp.json().get("EvalID") == "", (probe, resp.text)
        listed = client.get("/v1/jobs", params=star).json()
        assert "b" not in {j["Namespace"] for j in listed}
    regs = root.get("/v1/service/svc-b", params={"namespace": "b"}).json()
    assert [r["ID"] for r in regs] == [world["reg_b"]]
    assert root.get("/v1/job/web", params={"namespace": "b"}).json()["Stop"] is False
    assert root.get("/v1/var/secret/db", params={"namespace": "b"}).status_code == 200
    assert root.get("/v1/jobs", params={"namespace": "b", "prefix": "param/"}).json() == []
    assert root.get("/v1/jobs", params={"namespace": "b", "prefix": "cron/"}).json() == []


def test_no_secret_in_any_answer(world: dict[str, Any]) -> None:
    root: httpx.Client = world["root"]
    secrets = [world["mgmt"]["SecretID"], world["a"]["SecretID"], world["node_secret"]]
    node_id = world["node_id"]
    for path in (
        "/v1/acl/tokens",
        "/v1/nodes",
        f"/v1/node/{node_id}",
        f"/v1/node/{node_id}/allocations",
        f"/v1/allocation/{world['alloc_a']}",
        "/v1/agent/self",
        "/v1/agent/members",
        "/v1/openapi.json",
        "/v1/internal/federation",
    ):
        resp = root.get(path)
        assert resp.status_code == 200, (path, resp.text)
        assert not [s for s in secrets if s in resp.text], path
    # Node events from the start: the registration of the node is among them
    params = {"topic": "Node", "index": "1"}
    with root.stream("GET", "/v1/event/stream", params=params) as resp:
        line = next(line for line in resp.iter_lines() if '"Events"' in line)
    assert node_id in line
    assert not [s for s in secrets if s in line]


def test_region_hop_header_skips_no_check(world: dict[str, Any], acl_agent: Agent) -> None:
    local = acl_agent.config.region
    hop = {"X-Nomad-Forwarded-Region": "elsewhere"}
    with _client(world, "a") as a:
        # a (spoofed) forwarded request for this region is checked as any other
        resp = a.get("/v1/job/web", params={"namespace": "b", "region": local}, headers=hop)
        assert (resp.status_code, resp.text) == (403, "Permission denied")
        # for another region it is refused, never answered here
        resp = a.get("/v1/job/web", params={"namespace": "b", "region": "elsewhere"}, headers=hop)
        assert resp.status_code == 500 and "web" not in resp.text.replace("elsewhere", "")
    with _client(world, "unknown") as unknown:
        resp = unknown.get("/v1/jobs", params={"region": local}, headers=hop)
        assert (resp.status_code, resp.text) == (403, NOT_FOUND_TOKEN)


def test_unsigned_federation_pushes_need_a_management_token(world: dict[str, Any]) -> None:
    # no -encrypt key here: a push is unsigned, and with ACLs on only an
    # operator may add servers that forwarded requests (and tokens) would reach
    push = {
        "rogue": [{"Name": "evil", "Addr": "127.0.0.2:4646", "Region": "rogue", "LastSeen": 1}]
    }
    for caller in ("anon", "a", "node"):
        with _client(world, caller) as c:
            resp = c.put("/v1/internal/federation", json=push)
            assert resp.status_code == 403, (caller, resp.text)
    assert "rogue" not in world["root"].get("/v1/regions").json()
    resp = world["root"].put("/v1/internal/federation", json={})
    assert resp.status_code == 200, resp.text
