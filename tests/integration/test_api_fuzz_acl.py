"""schemathesis against a dev agent with ACLs enforced (`acl_enabled=True`),
bootstrapped, every request carrying the management token: the /v1/acl/*,
/v1/namespace* and /v1/quota* operations plus a sample of others get
bounded, derandomised examples and must answer no 5xx, only documented
statuses, and bodies that match the document. A quick loop checks that
anonymous requests to guarded operations are refused with 403.

The fuzzer must not destroy the token it uses: any case that would delete
or rewrite the management token is pointed at another accessor (random IDs
never hit it; the guard makes that certain), and the run ends by checking
the token still works. Regressions the run found are plain requests in
test_acl_fuzz_regressions_* below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, given
from schemathesis.generation.modes import GenerationMode

from controlplane.agent.agent import Agent
from tests.agents import in_process_agent
from tests.integration.test_api_fuzz import CHECKS, REQUEST_TIMEOUT_S, _bounded, _describe
from tests.integration.test_api_fuzz import _operations as fuzzed_operations

# ~30 operations x (20 + 10) examples: ~10 s on 2 cores
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
FAMILIES = ("/v1/acl/", "/v1/namespace", "/v1/quota")
SAMPLE = {
    ("GET", "/v1/jobs"),
    ("GET", "/v1/job/{job_id}"),
    ("GET", "/v1/nodes"),
    ("GET", "/v1/allocations"),
    ("GET", "/v1/evaluations"),
    ("GET", "/v1/agent/self"),
    ("GET", "/v1/agent/members"),
    ("GET", "/v1/operator/raft/configuration"),
    ("GET", "/v1/services"),
    ("PUT", "/v1/system/gc"),
}
# guarded operations an anonymous request must not pass (path params filled in)
ANONYMOUS_DENIED = [
    ("GET", "/v1/jobs"),
    ("GET", "/v1/nodes"),
    ("GET", "/v1/allocations"),
    ("GET", "/v1/agent/self"),
    ("GET", "/v1/operator/raft/configuration"),
    ("PUT", "/v1/system/gc"),
    ("GET", "/v1/quotas"),
    ("PUT", "/v1/quota/fuzz-seed"),
    ("DELETE", "/v1/quota/fuzz-seed"),
    ("PUT", "/v1/namespace/fuzz-seed"),
    ("DELETE", "/v1/namespace/fuzz-seed"),
    ("GET", "/v1/acl/tokens"),
    ("POST", "/v1/acl/token"),
    ("GET", "/v1/acl/policy/fuzz-seed"),
    ("POST", "/v1/acl/policy/fuzz-seed"),
    ("DELETE", "/v1/acl/policy/fuzz-seed"),
]


@pytest.fixture(scope="module")
def acl_fuzz_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    data_dir = str(tmp_path_factory.mktemp("acl-fuzz-agent"))
    with in_process_agent(data_dir=data_dir, node_name="acl-fuzz", acl_enabled=True) as agent:
        yield agent


@pytest.fixture(scope="module")
def base_url(acl_fuzz_agent: Agent) -> str:
    return f"http://{acl_fuzz_agent.config.http_addr}"


@pytest.fixture(scope="module")
def root(base_url: str) -> dict[str, Any]:
    """The bootstrap token, and one object of each family so `{name}` reads find one."""
    with httpx.Client(base_url=base_url, timeout=30) as api:
        resp = api.post("/v1/acl/bootstrap")
        assert resp.status_code == 200, resp.text
        token: dict[str, Any] = resp.json()
        h = {"X-Nomad-Token": token["SecretID"]}
        rules = 'namespace "default" { policy = "read" }'
        for method, path, body in [
            ("POST", "/v1/acl/policy/fuzz-seed", {"Rules": rules}),
            ("PUT", "/v1/quota/fuzz-seed", {"Name": "fuzz-seed", "Limits": [{"Region": "global"}]}),
            ("PUT", "/v1/namespace/fuzz-seed", {"Name": "fuzz-seed", "Quota": "fuzz-seed"}),
        ]:
            resp = api.request(method, path, json=body, headers=h)
            assert resp.status_code == 200, (path, resp.text)
    return token


def _operations(base_url: str) -> Iterator[Any]:
    for op in fuzzed_operations(base_url):
        if op.path.startswith(FAMILIES) or (op.method.upper(), op.path) in SAMPLE:
            yield op


def _spare(case: Any, accessor: str) -> None:
    """Never let a case delete or rewrite the management token the run uses."""
    params = case.path_parameters or {}
    if params.get("accessor_id") == accessor and case.method.upper() in ("DELETE", "POST", "PUT"):
        params["accessor_id"] = "00000000-0000-0000-0000-000000000000"


def _fuzz(op: Any, mode: GenerationMode, base_url: str, token: dict[str, Any]) -> None:
    headers = {"X-Nomad-Token": token["SecretID"]}

    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _bounded(case)
        _spare(case, token["AccessorID"])
        case.call_and_validate(
            base_url=base_url, headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
        )

    run()


def test_acl_operations_are_published(base_url: str) -> None:
    ops = {(op.method.upper(), op.path) for op in _operations(base_url)}
    for path in ("/v1/acl/bootstrap", "/v1/acl/token", "/v1/acl/token/{accessor_id}"):
        assert ("POST", path) in ops
    assert ("GET", "/v1/acl/token/self") in ops and ("GET", "/v1/acl/tokens") in ops
    assert ("DELETE", "/v1/acl/policy/{name}") in ops
    assert not SAMPLE - ops, SAMPLE - ops


def test_anonymous_requests_to_guarded_operations_are_refused(
    base_url: str, root: dict[str, Any]
) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as api:
        answers = {
            (method, path): api.request(method, path, json={}).status_code
            for method, path in ANONYMOUS_DENIED
        }
        # and a client token holding only a read policy cannot manage either
        h = {"X-Nomad-Token": root["SecretID"]}
        made = api.post(
            "/v1/acl/token", headers=h, json={"Type": "client", "Policies": ["fuzz-seed"]}
        )
        assert made.status_code == 200, made.text
        reader = {"X-Nomad-Token": made.json()["SecretID"]}
        assert api.get("/v1/jobs", headers=reader).status_code == 200
        assert api.get("/v1/acl/tokens", headers=reader).status_code == 403
        assert api.get("/v1/acl/policy/fuzz-seed", headers=reader).status_code == 200
    assert answers == dict.fromkeys(ANONYMOUS_DENIED, 403)


def test_real_acl_objects_match_the_document(base_url: str, root: dict[str, Any]) -> None:
    """Bootstrap-made objects, read and created through every ACL operation
    that returns one, answer 200 with bodies matching their schemas (tokens
    with a SecretID, list stubs without)."""
    headers = {"X-Nomad-Token": root["SecretID"]}
    ops = {(op.method.upper(), op.path): op for op in _operations(base_url)}
    cases = [
        (("POST", "/v1/acl/token"), {}, {"Type": "client", "Policies": ["fuzz-seed"]}),
        (("POST", "/v1/acl/token"), {}, {"Type": "management", "ExpirationTTL": "1h"}),
        (("GET", "/v1/acl/token/{accessor_id}"), {"accessor_id": root["AccessorID"]}, None),
        (("GET", "/v1/acl/token/self"), {}, None),
        (("GET", "/v1/acl/tokens"), {}, None),
        (("GET", "/v1/acl/policies"), {}, None),
        (("GET", "/v1/acl/policy/{name}"), {"name": "fuzz-seed"}, None),
    ]
    for key, params, body in cases:
        case = (
            ops[key].Case(path_parameters=params, body=body)
            if body
            else ops[key].Case(path_parameters=params)
        )
        resp = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        assert resp.status_code == 200, (key, resp.text)
        data = resp.json()
        if key == ("GET", "/v1/acl/tokens"):
            assert len(data) >= 3 and all("SecretID" not in t for t in data)
        elif "token" in key[1]:
            assert data["SecretID"]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_schemathesis_with_acls_finds_no_server_error_or_schema_violation(
    base_url: str, root: dict[str, Any]
) -> None:
    failures: list[str] = []
    fuzzed = 0
    for op in _operations(base_url):
        fuzzed += 1
        for mode in EXAMPLES:
            try:
                _fuzz(op, mode, base_url, root)
            except hypothesis.errors.Unsatisfiable:
                continue
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # schemathesis raises (base) exception groups
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {_describe(exc)}")
    assert not failures, "\n\n".join(failures)
    assert fuzzed >= 25
    # the token the run used survived it
    with httpx.Client(base_url=base_url, timeout=10) as api:
        me = api.get("/v1/acl/token/self", headers={"X-Nomad-Token": root["SecretID"]})
    assert me.status_code == 200 and me.json()["Type"] == "management"


@pytest.mark.parametrize("bad", ["x", {"a": 1}, [1], -1, 1.5, True])
@pytest.mark.parametrize("field", ["CreateIndex", "ModifyIndex"])
def test_acl_fuzz_regressions_token_index_fields_must_be_integers(
    base_url: str, root: dict[str, Any], field: str, bad: Any
) -> None:
    # was a 500 ("invalid literal for int()"): the body's indexes went through int()
    body = {"Type": "client", "Policies": ["fuzz-seed"], field: bad}
    with httpx.Client(base_url=base_url, timeout=10) as api:
        resp = api.post("/v1/acl/token", headers={"X-Nomad-Token": root["SecretID"]}, json=body)
    assert (resp.status_code, resp.text) == (400, f"{field} must be a non-negative integer")
