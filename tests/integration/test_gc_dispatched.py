"""`nomadtui system gc` on a real dev agent: a dispatched child that ran to
completion is purged with its evaluations and allocations; its parameterized
parent, never stopped, stays."""

from __future__ import annotations

import io

import httpx

from controlplane.agent.agent import Agent
from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main
from tests.waiting import wait_for

PARENT = {
    "Job": {
        "ID": "gc-render",
        "Type": "batch",
        "ParameterizedJob": {"Payload": "optional"},
        "TaskGroups": [
            {
                "Name": "g",
                "Count": 1,
                "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/true"},
                        "Resources": {"CPU": 50, "MemoryMB": 32},
                    }
                ],
            }
        ],
    }
}


def _system_gc(agent: Agent) -> None:
    out, err = io.StringIO(), io.StringIO()
    runtime = Runtime(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(""),
        env={"NOMAD_ADDR": f"http://{agent.config.http_addr}"},
    )
    code = main(["system", "gc"], runtime)
    assert code == 0, err.getvalue()


def test_system_gc_purges_a_dead_dispatched_child(api: httpx.Client, dev_agent: Agent) -> None:
    assert api.put("/v1/jobs", json=PARENT).status_code == 200
    resp = api.put("/v1/job/gc-render/dispatch", json={})
    assert resp.status_code == 200, resp.text
    child = resp.json()["DispatchedJobID"]
    eval_id = resp.json()["EvalID"]

    def dead() -> bool:
        r = api.get(f"/v1/job/{child}")
        return r.status_code == 200 and r.json()["Status"] == "dead"

    wait_for(dead, timeout=15, what="the dispatched child to finish")
    alloc_ids = [a["ID"] for a in api.get(f"/v1/job/{child}/allocations").json()]
    assert alloc_ids

    _system_gc(dev_agent)

    assert api.get(f"/v1/job/{child}").status_code == 404
    assert api.get(f"/v1/evaluation/{eval_id}").status_code == 404
    for alloc_id in alloc_ids:
        assert api.get(f"/v1/allocation/{alloc_id}").status_code == 404
    parent = api.get("/v1/job/gc-render")
    assert parent.status_code == 200 and parent.json()["Status"] == "running"
    api.delete("/v1/job/gc-render", params={"purge": "true"})
