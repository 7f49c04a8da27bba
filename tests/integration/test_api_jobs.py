"""The HTTP API against a real dev agent: register, place, run, log, stop; bad input."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import httpx

from controlplane import jobspec
from controlplane.structs import to_builtins
from tests.waiting import wait_for

RAW_EXEC_JOB = """
job "api-exec" {
  datacenters = ["dc1"]
  group "app" {
    count = 2
    network {
      port "http" {}
    }
    task "hello" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello ${NOMAD_ALLOC_NAME} port=${NOMAD_PORT_http}; exec sleep 600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def _job_body(text: str = RAW_EXEC_JOB, **over: Any) -> dict[str, Any]:
    job = to_builtins(jobspec.parse_job(text, "test.nomad"))
    job.update(over)
    return {"Job": job}


def _allocs(api: httpx.Client, job: str) -> list[dict[str, Any]]:
    resp = api.get(f"/v1/job/{job}/allocations")
    resp.raise_for_status()
    allocs: list[dict[str, Any]] = resp.json()
    return allocs


def test_job_runs_logs_and_stops(api: httpx.Client) -> None:
    resp = api.put("/v1/jobs", json=_job_body())
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["EvalID"] and int(resp.headers["X-Nomad-Index"]) == out["Index"]

    running = wait_for(
        lambda: (
            [a for a in _allocs(api, "api-exec") if a["ClientStatus"] == "running"]
            if len([a for a in _allocs(api, "api-exec") if a["ClientStatus"] == "running"]) == 2
            else None
        ),
        what="two running allocations",
    )
    names = sorted(a["Name"] for a in running)
    assert names == ["api-exec.app[0]", "api-exec.app[1]"]

    ev = api.get(f"/v1/evaluation/{out['EvalID']}").json()
    assert ev["Status"] == "complete" and ev["TriggeredBy"] == "job-register"

    full = api.get(f"/v1/allocation/{running[0]['ID']}").json()
    ports = full["AllocatedResources"]["Shared"]["Ports"]
    assert ports[0]["Label"] == "http" and 20000 <= ports[0]["Value"] <= 32000
    events = [e["Type"] for e in full["TaskStates"]["hello"]["Events"]]
    assert events[:1] == ["Received"] and "Started" in events

    # logs: framed (base64) and plain, with the interpolated environment
    def log_text() -> str:
        r = api.get(
            f"/v1/client/fs/logs/{full['ID']}",
            params={"task": "hello", "type": "stdout", "plain": "true"},
        )
        return r.text

    text = wait_for(log_text, what="log output")
    assert text == f"hello {full['Name']} port={ports[0]['Value']}\n"
    framed = api.get(f"/v1/client/fs/logs/{full['ID']}", params={"task": "hello", "type": "stdout"})
    frame = json.loads(framed.text)
    assert base64.b64decode(frame["Data"]).decode() == text
    assert frame["File"] == "alloc/logs/hello.stdout.0"

    summary = api.get("/v1/job/api-exec/summary").json()
    assert summary["Summary"]["app"]["Running"] == 2
    assert api.get("/v1/job/api-exec").json()["Status"] == "running"

    stop = api.delete("/v1/job/api-exec")
    assert stop.status_code == 200 and stop.json()["EvalID"]
    wait_for(
        lambda: all(
            a["ClientStatus"] == "complete" and a["DesiredStatus"] == "stop"
            for a in _allocs(api, "api-exec")
        ),
        what="allocations stopped",
    )
    job = api.get("/v1/job/api-exec").json()
    assert job["Stop"] is True and job["Status"] == "dead" and job["Version"] == 1

    purge = api.delete("/v1/job/api-exec", params={"purge": "true"})
    assert purge.status_code == 200
    assert api.get("/v1/job/api-exec").status_code == 404


def test_logs_follow_streams_new_output(api: httpx.Client) -> None:
    text = RAW_EXEC_JOB.replace('"api-exec"', '"api-follow"').replace("count = 2", "count = 1")
    text = text.replace(
        "echo hello ${NOMAD_ALLOC_NAME} port=${NOMAD_PORT_http}; exec sleep 600",
        "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done",
    )
    assert api.put("/v1/jobs", json=_job_body(text)).status_code == 200
    alloc = wait_for(
        lambda: next(
            (a for a in _allocs(api, "api-follow") if a["ClientStatus"] == "running"), None
        ),
        what="running allocation",
    )
    seen: list[str] = []
    params = {"task": "hello", "type": "stdout", "follow": "true"}
    with api.stream("GET", f"/v1/client/fs/logs/{alloc['ID']}", params=params) as resp:
        buf = ""
        decoder = json.JSONDecoder()
        for chunk in resp.iter_text():
            buf += chunk
            while buf:
                try:
                    obj, end = decoder.raw_decode(buf)
                except json.JSONDecodeError:
                    break
                buf = buf[end:]
                if obj.get("Data"):
                    seen.extend(base64.b64decode(obj["Data"]).decode().splitlines())
            if len(seen) >= 5:
                break
    assert seen[:5] == [f"tick {i}" for i in range(1, 6)]
    api.delete("/v1/job/api-follow", params={"purge": "true"})


def test_unplaceable_job_blocks_and_reports_why(api: httpx.Client) -> None:
    text = RAW_EXEC_JOB.replace('"api-exec"', '"too-big"').replace(
        "memory = 32", "memory = 99999999"
    )
    out = api.put("/v1/jobs", json=_job_body(text)).json()
    ev = wait_for(
        lambda: (
            (e := api.get(f"/v1/evaluation/{out['EvalID']}").json())["Status"] == "complete" and e
        ),
        what="evaluation complete",
    )
    failed = ev["FailedTGAllocs"]["app"]
    assert failed["DimensionExhausted"] == {"memory": 1} and failed["NodesExhausted"] == 1
    blocked = api.get(f"/v1/evaluation/{ev['BlockedEval']}").json()
    assert blocked["Status"] == "blocked"
    assert blocked["StatusDescription"] == "created to place remaining allocations"
    summary = api.get("/v1/job/too-big/summary").json()
    assert summary["Summary"]["app"]["Queued"] == 2
    assert _allocs(api, "too-big") == []
    api.delete("/v1/job/too-big", params={"purge": "true"})


def test_blocking_query_returns_on_write(api: httpx.Client) -> None:
    index = int(api.get("/v1/jobs").headers["X-Nomad-Index"])
    result: dict[str, Any] = {}

    def block() -> None:
        # other writes (allocs of earlier tests) may wake the query first:
        # each answer must carry a newer index, until the job shows up
        start = time.monotonic()
        last = index
        for _ in range(50):
            r = api.get("/v1/jobs", params={"index": last, "wait": "20s"})
            new = int(r.headers["X-Nomad-Index"])
            assert new > last, "a blocking query returned without a change"
            last = new
            if "blocker" in [j["ID"] for j in r.json()]:
                break
        result["elapsed"] = time.monotonic() - start
        result["index"] = last
        result["ids"] = [j["ID"] for j in r.json()]

    t = threading.Thread(target=block)
    t.start()
    text = RAW_EXEC_JOB.replace('"api-exec"', '"blocker"').replace("count = 2", "count = 0")
    api.put("/v1/jobs", json=_job_body(text))
    t.join(20)
    assert result["index"] > index and "blocker" in result["ids"]
    assert result["elapsed"] < 15
    # An expired wait returns 200 with the current index, not the one asked for.
    # The job's own evaluation completes one Raft entry after the job shows up
    # (the scheduler's write to `evals`, a table of this list), so the index may
    # still move: let it settle, and bound the answer by reads either side.
    wait_for(
        lambda: all(
            e["Status"] == "complete" for e in api.get("/v1/job/blocker/evaluations").json()
        ),
        what="the blocker's evaluation to complete",
    )
    before = int(api.get("/v1/jobs").headers["X-Nomad-Index"])
    start = time.monotonic()
    r = api.get("/v1/jobs", params={"index": before + 1000, "wait": "100ms"})
    waited = time.monotonic() - start
    after = int(api.get("/v1/jobs").headers["X-Nomad-Index"])
    assert r.status_code == 200 and waited >= 0.1
    assert before <= int(r.headers["X-Nomad-Index"]) <= after < before + 1000
    api.delete("/v1/job/blocker", params={"purge": "true"})


def test_blocked_job_is_placed_when_capacity_frees(api: httpx.Client) -> None:
    node = api.get("/v1/nodes").json()[0]
    full = api.get(f"/v1/node/{node['ID']}").json()
    memory = full["NodeResources"]["Memory"]["MemoryMB"]
    big = int(memory * 0.6)

    def job(name: str) -> dict[str, Any]:
        text = RAW_EXEC_JOB.replace('"api-exec"', f'"{name}"').replace("count = 2", "count = 1")
        return _job_body(text.replace("memory = 32", f"memory = {big}"))

    assert api.put("/v1/jobs", json=job("hog")).status_code == 200
    wait_for(lambda: [a for a in _allocs(api, "hog") if a["ClientStatus"] == "running"],
             what="hog running")
    out = api.put("/v1/jobs", json=job("waiter")).json()
    ev = wait_for(
        lambda: (e := api.get(f"/v1/evaluation/{out['EvalID']}").json())["Status"] == "complete"
        and e,
        what="waiter evaluated",
    )
    assert ev["FailedTGAllocs"]["app"]["DimensionExhausted"] == {"memory": 1}
    assert _allocs(api, "waiter") == []

    api.delete("/v1/job/hog")
    placed = wait_for(
        lambda: [a for a in _allocs(api, "waiter") if a["ClientStatus"] == "running"],
        what="waiter placed once hog stopped",
    )
    assert placed[0]["Name"] == "waiter.app[0]"
    blocked = api.get(f"/v1/evaluation/{ev['BlockedEval']}").json()
    assert blocked["Status"] == "complete"
    assert api.get("/v1/job/waiter/summary").json()["Summary"]["app"]["Queued"] == 0
    for name in ("hog", "waiter"):
        api.delete(f"/v1/job/{name}", params={"purge": "true"})
