"""schemathesis against a live dev agent: every operation that `/v1/openapi.json`
publishes (except those marked `x-fuzz: false`: never-ending streams and the
operator calls that would destroy the agent under test) gets bounded,
derandomised positive and negative examples over real HTTP, and must answer
no 5xx, only documented statuses, and bodies that match the document.
ACLs are off here, so /v1/acl/* only answers "ACL support disabled": those
operations are fuzzed with ACLs on by test_api_fuzz_acl.py.

The agent is this module's own (`dev_agent` is module-scoped), so jobs or
nodes the fuzzer manages to register never reach another test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.structs import to_builtins
from tests.waiting import wait_for

# examples per operation and mode: ~60 operations x 2 modes in ~30 s on 2 cores
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
REQUEST_TIMEOUT_S = 10.0


SEED_JOB = """
job "fuzz-seed" {
  group "app" {
    task "hello" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello; exec sleep 600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def base_url(dev_agent: Agent) -> str:
    return f"http://{dev_agent.config.http_addr}"


@pytest.fixture(scope="module")
def real_ids(base_url: str) -> dict[str, str]:
    """A running job, so lists hold real objects and item reads have real IDs."""
    with httpx.Client(base_url=base_url, timeout=30) as api:
        job = to_builtins(jobspec.parse_job(SEED_JOB, "seed.nomad"))
        resp = api.put("/v1/jobs", json={"Job": job})
        assert resp.status_code == 200, resp.text
        alloc = wait_for(
            lambda: next(
                (
                    a
                    for a in api.get("/v1/job/fuzz-seed/allocations").json()
                    if a["ClientStatus"] == "running"
                ),
                None,
            ),
            what="the seed job's running allocation",
        )
        deployment = wait_for(
            lambda: api.get("/v1/job/fuzz-seed/deployment").json(), what="a deployment"
        )
        evals = api.get("/v1/job/fuzz-seed/evaluations").json()
        # `{name}` reads (namespace, quota, service, ...) find a real object too
        quota = {"Name": "fuzz-seed", "Limits": [{"Region": "global"}]}
        resp = api.put("/v1/quota/fuzz-seed", json=quota)
        assert resp.status_code == 200, resp.text
    return {
        "job_id": "fuzz-seed",
        "alloc_id": alloc["ID"],
        "node_id": alloc["NodeID"],
        "eval_id": evals[0]["ID"],
        "dep_id": deployment["ID"],
        "name": "fuzz-seed",
    }


def _operations(base_url: str) -> Iterator[Any]:
    schema = schemathesis.openapi.from_url(f"{base_url}/v1/openapi.json")
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is invalid
        op = result.ok()
        if op.definition.raw.get("x-fuzz", True):
            yield op


def _bounded(case: Any) -> None:
    # a blocking query past the current index would wait (up to 5 minutes)
    if case.query and "index" in case.query:
        case.query["wait"] = "10ms"


def _fuzz(op: Any, mode: GenerationMode, base_url: str) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,  # the same examples on every run: reproducible CI
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _bounded(case)
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=REQUEST_TIMEOUT_S)

    run()


def _describe(exc: BaseException) -> str:
    """The failure and, for an exception group, every failure inside it."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BaseExceptionGroup):
        text += "".join("\n  - " + _describe(e).replace("\n", "\n    ") for e in exc.exceptions)
    return text


def test_openapi_document_lists_served_operations(base_url: str) -> None:
    ops = {(op.method.upper(), op.path) for op in _operations(base_url)}
    assert ("GET", "/v1/jobs") in ops
    assert ("GET", "/v1/client/fs/logs/{alloc_id}") in ops
    # published but kept out of the fuzz run
    assert ("PUT", "/v1/operator/snapshot") not in ops
    assert ("GET", "/v1/event/stream") not in ops


# reads of the objects the seed job makes (streams, stats and snapshots are
# checked by their own tests; other families by theirs)
_REAL_READS = (
    "/v1/job",
    "/v1/node",
    "/v1/allocation",
    "/v1/evaluation",
    "/v1/deployment",
    "/v1/service",
    "/v1/status/",
    "/v1/agent/",
    "/v1/regions",
    "/v1/operator/raft/",
)


def test_reads_of_real_objects_match_the_document(base_url: str, real_ids: dict[str, str]) -> None:
    """Every GET of a real job, allocation, node, evaluation and deployment
    answers 200 with a body that matches its published schema."""
    checked = []
    for op in _operations(base_url):
        if op.method.upper() != "GET" or not op.path.startswith(_REAL_READS):
            continue
        names = [p.name for p in op.path_parameters]
        case = op.Case(path_parameters={n: real_ids[n] for n in names})
        resp = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)
        assert resp.status_code == 200, (op.path, resp.text)
        checked.append(op.path)
    assert "/v1/allocation/{alloc_id}" in checked and "/v1/deployment/{dep_id}" in checked


# schemathesis draws from `random` in some strategies; Hypothesis seeds it per example
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_schemathesis_finds_no_server_error_or_schema_violation(
    base_url: str, real_ids: dict[str, str]
) -> None:
    # real_ids: a running job, so list answers hold real objects to check
    failures: list[str] = []
    for op in _operations(base_url):
        if op.path.startswith("/v1/acl/"):
            continue  # all "ACL support disabled" here: test_api_fuzz_acl.py fuzzes them
        for mode in EXAMPLES:
            try:
                _fuzz(op, mode, base_url)
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to negate: an operation without inputs
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # schemathesis raises (base) exception groups
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {_describe(exc)}")
    assert not failures, "\n\n".join(failures)
