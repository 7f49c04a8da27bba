"""Quotas against a real dev agent (real HTTP, raw_exec tasks): CRUD through the
API and the CLI, namespaces attached to quotas, placements over the quota
queued (blocked eval with QuotaLimitReached) and placed once usage drops or
the quota is raised; negative limits forbid, 0 is unlimited."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from tests.cli_support import run_cli
from tests.job_support import hcl_job, running_allocs
from tests.waiting import wait_for


def _job(job_id: str, namespace: str, count: int = 1, cpu: int = 100) -> dict[str, Any]:
    return hcl_job(job_id, namespace=namespace, count=count, cpu=cpu)


def _quota(api: httpx.Client, name: str, cpu: int = 0, memory: int = 0) -> None:
    spec = {
        "Name": name,
        "Description": f"quota {name}",
        "Limits": [{"Region": "global", "RegionLimit": {"CPU": cpu, "MemoryMB": memory}}],
    }
    resp = api.put(f"/v1/quota/{name}", json=spec)
    assert resp.status_code == 200, resp.text


def _namespace(api: httpx.Client, name: str, quota: str) -> None:
    resp = api.put(f"/v1/namespace/{name}", json={"Name": name, "Quota": quota})
    assert resp.status_code == 200, resp.text


def _run(api: httpx.Client, body: dict[str, Any], ns: str) -> dict[str, Any]:
    resp = api.put("/v1/jobs", params={"namespace": ns}, json=body)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _evaluated(api: httpx.Client, eval_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        ev: dict[str, Any] = api.get(f"/v1/evaluation/{eval_id}").json()
        return ev if ev["Status"] == "complete" else None

    result: dict[str, Any] = wait_for(done, what=f"eval {eval_id} complete")
    return result


def _usage_cpu(api: httpx.Client, quota: str) -> int:
    used = api.get(f"/v1/quota/usage/{quota}").json()["Used"]
    return int(next(iter(used.values()))["RegionLimit"]["CPU"]) if used else 0


def _cleanup(api: httpx.Client, ns: str, *jobs: str) -> None:
    for job_id in jobs:
        api.delete(f"/v1/job/{job_id}", params={"namespace": ns, "purge": "true"})


def test_quota_crud_and_validation_over_http(api: httpx.Client) -> None:
    _quota(api, "crud-q", cpu=2500, memory=2000)
    listed = api.get("/v1/quotas", params={"prefix": "crud-"})
    assert listed.status_code == 200 and int(listed.headers["X-Nomad-Index"]) > 0
    assert [q["Name"] for q in listed.json()] == ["crud-q"]
    spec = api.get("/v1/quota/crud-q").json()
    limit = spec["Limits"][0]
    assert limit["RegionLimit"]["CPU"] == 2500 and limit["RegionLimit"]["MemoryMB"] == 2000
    assert limit["Hash"]  # Nomad's base64 limit hash, the key of QuotaUsage.Used
    usage = api.get("/v1/quota/usage/crud-q").json()
    assert usage["Name"] == "crud-q"
    assert usage["Used"][limit["Hash"]]["RegionLimit"]["CPU"] == 0
    assert any(u["Name"] == "crud-q" for u in api.get("/v1/quota-usages").json())

    # a blocking query on the list returns when a quota changes
    index = int(listed.headers["X-Nomad-Index"])
    _quota(api, "crud-q", cpu=3000)
    blocked = api.get("/v1/quotas", params={"index": index, "wait": "5s"})
    assert int(blocked.headers["X-Nomad-Index"]) > index
    changed = api.get("/v1/quota/crud-q").json()["Limits"][0]
    assert changed["Hash"] != limit["Hash"]

    missing = api.get("/v1/quota/nope")
    assert missing.status_code == 404 and missing.text == "Quota not found"
    bad = api.put("/v1/quota", json={"Name": "bad", "Limits": []})
    assert bad.status_code == 400 and "at least one limit" in bad.text
    dup = api.put(
        "/v1/quota",
        json={"Name": "dup", "Limits": [{"Region": "global"}, {"Region": "global"}]},
    )
    assert dup.status_code == 400 and "duplicate limit" in dup.text
    assert api.put("/v1/quota", json={"Name": "a/b", "Limits": [{}]}).status_code == 400
    # the URL names the quota when the body does not; a different body name is refused
    assert api.post("/v1/quota/fill-q", json={"Limits": [{"Region": "global"}]}).status_code == 200
    assert api.get("/v1/quota/fill-q").json()["Name"] == "fill-q"
    other = api.post("/v1/quota/fill-q", json={"Name": "x", "Limits": [{"Region": "global"}]})
    assert other.status_code == 400 and "does not match" in other.text
    assert api.delete("/v1/quota/fill-q").status_code == 200
    assert api.delete("/v1/quota/fill-q").status_code == 404

    # in use by a namespace: refused; once the namespace lets go: deleted
    _namespace(api, "crud-ns", "crud-q")
    refused = api.delete("/v1/quota/crud-q")
    assert refused.status_code == 400
    assert refused.text == 'quota "crud-q" is used by namespace(s): crud-ns'
    _namespace(api, "crud-ns", "")
    assert api.delete("/v1/quota/crud-q").status_code == 200
    assert api.get("/v1/quota/crud-q").status_code == 404
    assert api.delete("/v1/namespace/crud-ns").status_code == 200


def test_quota_queues_placements_and_raising_it_places_them(api: httpx.Client) -> None:
    _quota(api, "raise-q", cpu=200)
    _namespace(api, "raise-ns", "raise-q")
    out = _run(api, _job("web", "raise-ns", count=3), "raise-ns")
    ev = _evaluated(api, out["EvalID"])
    assert ev["QueuedAllocations"] == {"app": 1}
    assert ev["FailedTGAllocs"]["app"]["QuotaExhausted"] == [
        "cpu exhausted (300 needed > 200 limit)"
    ]
    blocked = api.get(f"/v1/evaluation/{ev['BlockedEval']}").json()
    assert blocked["Status"] == "blocked" and blocked["QuotaLimitReached"] == "raise-q"
    wait_for(lambda: len(running_allocs(api, "web", "raise-ns")) == 2, what="2 allocs running")
    summary = api.get("/v1/job/web/summary", params={"namespace": "raise-ns"}).json()
    assert summary["Summary"]["app"]["Queued"] == 1
    assert _usage_cpu(api, "raise-q") == 200

    _quota(api, "raise-q", cpu=300)
    wait_for(lambda: len(running_allocs(api, "web", "raise-ns")) == 3, what="third alloc placed")
    assert api.get(f"/v1/evaluation/{ev['BlockedEval']}").json()["Status"] == "complete"
    summary = api.get("/v1/job/web/summary", params={"namespace": "raise-ns"}).json()
    assert summary["Summary"]["app"]["Queued"] == 0
    assert _usage_cpu(api, "raise-q") == 300
    _cleanup(api, "raise-ns", "web")


def test_stopping_another_job_places_the_queued_alloc(api: httpx.Client) -> None:
    _quota(api, "stop-q", cpu=200)
    _namespace(api, "stop-a", "stop-q")
    _namespace(api, "stop-b", "stop-q")  # one quota shared by two namespaces
    _run(api, _job("hog", "stop-b", count=1), "stop-b")
    wait_for(lambda: running_allocs(api, "hog", "stop-b"), what="hog running")
    out = _run(api, _job("web", "stop-a", count=2), "stop-a")
    ev = _evaluated(api, out["EvalID"])
    assert ev["QueuedAllocations"] == {"app": 1}
    wait_for(lambda: len(running_allocs(api, "web", "stop-a")) == 1, what="one web alloc")

    assert api.delete("/v1/job/hog", params={"namespace": "stop-b"}).status_code == 200
    placed = wait_for(
        lambda: len(running_allocs(api, "web", "stop-a")) == 2, what="queued web alloc placed"
    )
    assert placed
    blocked = api.get(f"/v1/evaluation/{ev['BlockedEval']}").json()
    assert blocked["Status"] == "complete"
    _cleanup(api, "stop-a", "web")
    _cleanup(api, "stop-b", "hog")


def test_negative_limit_forbids_and_zero_is_unlimited(api: httpx.Client) -> None:
    _quota(api, "forbid-q", cpu=-1)
    _namespace(api, "forbid-ns", "forbid-q")
    ev = _evaluated(api, _run(api, _job("none", "forbid-ns"), "forbid-ns")["EvalID"])
    assert ev["FailedTGAllocs"]["app"]["QuotaExhausted"] == [
        "cpu exhausted (100 needed > -1 limit)"
    ]
    assert api.get("/v1/job/none/allocations", params={"namespace": "forbid-ns"}).json() == []

    _quota(api, "free-q", cpu=0, memory=0)
    _namespace(api, "forbid-ns", "free-q")  # re-pointing retries the blocked eval
    wait_for(
        lambda: running_allocs(api, "none", "forbid-ns"), what="placed under an unlimited quota"
    )
    _cleanup(api, "forbid-ns", "none")


@pytest.fixture(scope="module")
def cli(dev_agent: Agent) -> Any:
    return functools.partial(run_cli, f"http://{dev_agent.config.http_addr}")


def test_quota_cli(cli: Any, api: httpx.Client, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("quota", "init")
    assert code == 0 and out.strip() == "Example quota specification written to spec.hcl"
    text = (tmp_path / "spec.hcl").read_text()
    (tmp_path / "spec.hcl").write_text(
        text.replace("default-quota", "cli-q").replace("cpu        = 2500", "cpu = 300")
    )
    code, out, _ = cli("quota", "apply", "spec.hcl")
    assert (code, out.strip()) == (0, 'Successfully applied quota specification "cli-q"!')

    (tmp_path / "bad.hcl").write_text('name = "x"\nlimit {\n  region = "global"\n  bogus = 1\n}\n')
    code, _, err = cli("quota", "apply", "bad.hcl")
    assert code == 1 and "bad.hcl:4" in err and 'unexpected attribute or block "bogus"' in err

    code, out, _ = cli("quota", "list")
    assert code == 0 and "cli-q" in out and "Limit the shared default namespace" in out

    _namespace(api, "cli-ns", "cli-q")
    _run(api, _job("cli-web", "cli-ns", count=1), "cli-ns")
    wait_for(lambda: _usage_cpu(api, "cli-q") == 100, what="usage counted")
    code, out, _ = cli("quota", "status", "cli-q")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["Name", "=", "cli-q"]
    header = lines[lines.index("Quota Limits") + 1]
    assert header.split() == [
        "Region",
        "CPU",
        "Usage",
        "Core",
        "Usage",
        "Memory",
        "Usage",
        "Memory",
        "Max",
        "Usage",
    ]
    row = lines[lines.index("Quota Limits") + 2].split()
    # cores = 0 is unlimited (inf), memory 16 of 1000
    assert row == [
        "global",
        "100",
        "/",
        "300",
        "0",
        "/",
        "inf",
        "16",
        "/",
        "1000",
        "0",
        "/",
        "1000",
    ]

    code, out, _ = cli("quota", "inspect", "cli-q")
    inspected = json.loads(out)
    assert inspected["Spec"]["Name"] == "cli-q"
    assert next(iter(inspected["Usages"]["global"]["Used"].values()))["RegionLimit"]["CPU"] == 100

    code, _, err = cli("quota", "delete", "cli-q")
    assert code == 1 and "used by namespace(s): cli-ns" in err
    _cleanup(api, "cli-ns", "cli-web")
    _namespace(api, "cli-ns", "")
    code, out, _ = cli("quota", "delete", "cli-q")
    assert (code, out.strip()) == (0, 'Successfully deleted quota "cli-q"!')
    code, _, err = cli("quota", "status", "cli-q")
    assert code == 1 and "Quota not found" in err
