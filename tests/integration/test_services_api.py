"""Native service catalog through real HTTP on an in-process dev agent: the
internal write a client uses, every read endpoint, blocking queries waking
on a change, validation, delete, `?choose=`, the Consul-provider warning,
and the cleanup when the job stops."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from controlplane.agent.agent import Agent
from controlplane.structs import ServiceRegistration, registration_id, to_builtins
from tests.job_support import hcl_job, run_until_running
from tests.waiting import wait_for


def _job(job_id: str, service: str = "") -> dict[str, Any]:
    block = f'service {{\n name = "{service}"\n }}' if service else ""
    return hcl_job(job_id, cpu=50, memory=32, group=block)


def _run(api: httpx.Client, job_id: str) -> dict[str, Any]:
    return run_until_running(api, _job(job_id))


def _reg(alloc: dict[str, Any], name: str, port: int = 8080, **kw: Any) -> dict[str, Any]:
    reg = ServiceRegistration(
        id=registration_id(alloc["ID"], "t", "app", name, f"p{port}"),
        service_name=name,
        alloc_id=alloc["ID"],
        address="127.0.0.1",
        port=port,
        tags=["urlprefix-/", "b", "urlprefix-/"],
        **kw,
    )
    data: dict[str, Any] = to_builtins(reg)
    return data


def _put(api: httpx.Client, upserts: list[dict[str, Any]], deletes: list[str]) -> httpx.Response:
    return api.put("/v1/internal/services", json={"Upserts": upserts, "DeleteIDs": deletes})


def _waiters(agent: Agent) -> int:
    assert agent.server is not None
    return len(agent.server.store.notifier._futures)


def test_register_read_block_delete_and_job_stop(api: httpx.Client, dev_agent: Agent) -> None:
    alloc = _run(api, "svc-web")
    reg = _reg(alloc, "svc-web-api")
    resp = _put(api, [reg], [])
    assert resp.status_code == 200, resp.text

    # every read endpoint, with Nomad's names plus our Health/Checks
    listing = api.get("/v1/services").json()
    names = {s["ServiceName"]: s["Tags"] for e in listing for s in e["Services"]}
    assert names["svc-web-api"] == ["b", "urlprefix-/"]
    got = api.get("/v1/service/svc-web-api")
    assert int(got.headers["X-Nomad-Index"]) >= resp.json()["Index"]
    [one] = got.json()
    assert one["ID"] == reg["ID"]
    assert (one["NodeID"], one["JobID"], one["Namespace"]) == (
        alloc["NodeID"],
        "svc-web",
        "default",
    )
    assert (one["Address"], one["Port"], one["Health"], one["Checks"]) == (
        "127.0.0.1",
        8080,
        "",
        [],
    )
    assert [r["ID"] for r in api.get("/v1/job/svc-web/services").json()] == [reg["ID"]]
    assert [r["ID"] for r in api.get(f"/v1/allocation/{alloc['ID']}/services").json()] == [
        reg["ID"]
    ]
    unknown = api.get("/v1/service/no-such-service")
    assert (unknown.status_code, unknown.json()) == (200, [])
    assert "X-Nomad-Index" in unknown.headers

    # a parked blocking query wakes on the health update
    index = int(got.headers["X-Nomad-Index"])
    box: dict[str, Any] = {}
    baseline = _waiters(dev_agent)

    def block() -> None:
        r = api.get("/v1/service/svc-web-api", params={"index": index, "wait": "20s"})
        box["done_at"] = time.monotonic()
        box["resp"] = r

    thread = threading.Thread(target=block)
    started = time.monotonic()
    thread.start()
    wait_for(lambda: _waiters(dev_agent) > baseline, what="the blocking query to park")
    assert "resp" not in box
    put_at = time.monotonic()
    passing = {**reg, "Health": "passing", "Checks": [{"Name": "alive", "Status": "passing"}]}
    assert _put(api, [passing], []).status_code == 200
    put_done = time.monotonic()
    thread.join(10)
    woke = box["resp"]
    assert int(woke.headers["X-Nomad-Index"]) > index
    assert woke.json()[0]["Health"] == "passing"
    assert box["done_at"] - started < 5  # woke on the change, not at wait's end
    print(
        f"RESULT service blocking-query wake: {1000 * (box['done_at'] - put_at):.1f} ms "
        f"after the write was sent (write itself {1000 * (put_done - put_at):.1f} ms)"
    )

    # delete one registration; a second delete is a 404
    path = f"/v1/service/svc-web-api/{reg['ID']}"
    assert api.delete(path).status_code == 200
    assert api.get("/v1/service/svc-web-api").json() == []
    assert api.delete(path).status_code == 404

    # stopping the job removes what its alloc registered
    assert _put(api, [reg], []).status_code == 200
    assert len(api.get("/v1/job/svc-web/services").json()) == 1
    assert api.delete("/v1/job/svc-web").status_code == 200
    wait_for(
        lambda: api.get("/v1/job/svc-web/services").json() == [],
        what="registrations of the stopped job to go",
    )


def test_writes_are_validated_before_anything_is_written(api: httpx.Client) -> None:
    alloc = _run(api, "svc-valid")
    good = _reg(alloc, "svc-valid-api")
    ghost = {**_reg(alloc, "svc-valid-api", port=9), "AllocID": "no-such-alloc"}
    resp = _put(api, [good, ghost], [])
    assert resp.status_code == 400
    assert "no-such-alloc" in resp.text and "does not exist" in resp.text
    assert api.get("/v1/service/svc-valid-api").json() == []
    resp = _put(api, [{**good, "ID": ""}], [])
    assert (resp.status_code, resp.text) == (400, "Service registration is missing an ID")
    wrong_node = {**good, "NodeID": "another-node"}
    assert _put(api, [wrong_node], []).status_code == 400
    # registering and deregistering in one request
    assert _put(api, [good], []).status_code == 200
    other = _reg(alloc, "svc-valid-api", port=9)
    assert _put(api, [other], [good["ID"]]).status_code == 200
    assert [r["ID"] for r in api.get("/v1/service/svc-valid-api").json()] == [other["ID"]]
    api.delete("/v1/job/svc-valid?purge=true")
    wait_for(lambda: api.get("/v1/service/svc-valid-api").json() == [], what="purge cleanup")


def test_choose_returns_a_stable_rendezvous_subset(api: httpx.Client) -> None:
    alloc = _run(api, "svc-choose")
    regs = [_reg(alloc, "svc-choose-api", port=p) for p in (8001, 8002, 8003, 8004)]
    assert _put(api, regs, []).status_code == 200

    def chosen(key: str) -> list[str]:
        resp = api.get("/v1/service/svc-choose-api", params={"choose": f"2|{key}"})
        assert resp.status_code == 200, resp.text
        return [r["ID"] for r in resp.json()]

    first = chosen("alloc-a")
    assert len(first) == 2 and chosen("alloc-a") == first
    picks = {tuple(chosen(f"alloc-{i}")) for i in range(12)}
    assert len(picks) > 1  # different requesters get different subsets
    bad = api.get("/v1/service/svc-choose-api", params={"choose": "two|x"})
    assert bad.status_code == 400 and "<number>|<key>" in bad.text
    api.delete("/v1/job/svc-choose?purge=true")


def test_consul_provider_services_warn_at_register_and_plan(api: httpx.Client) -> None:
    body = _job("svc-consul", service="svc-consul-web")
    expected = (
        '1 warning(s):\n\n* Service "svc-consul-web" uses provider "consul": nomadtui has no '
        "Consul; it is registered in the built-in catalog"
    )
    plan = api.put("/v1/job/svc-consul/plan", json=body)
    assert plan.status_code == 200, plan.text
    assert plan.json()["Warnings"] == expected
    resp = api.put("/v1/jobs", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["Warnings"] == expected
    nomad = _job("svc-consul", service="svc-consul-web")
    nomad["Job"]["TaskGroups"][0]["Services"][0]["Provider"] = "nomad"
    assert api.put("/v1/job/svc-consul/plan", json=nomad).json()["Warnings"] == ""
    api.delete("/v1/job/svc-consul?purge=true")
