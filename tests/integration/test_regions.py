"""Two regions as real processes on loopback: three servers in `a` (one Raft
cluster), one in `b`, federated with `server join`; jobs of `b` driven
through `a`; `b` killed, then back with -retry-join-wan.

Gossip runs fast here (server.federation in a config file), so failure and
the drop of a silent region happen within seconds.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main
from tests.agents import AgentProcess, free_port
from tests.waiting import wait_for

FEDERATION = """
server {
  federation {
    gossip_interval = "200ms"
    failed_after    = "1500ms"
    drop_after      = "4s"
  }
}
"""
HOP = "X-Nomad-Forwarded-Region"
# one gossip key for every server of every region (signs the WAN exchange too)
KEY = base64.b64encode(bytes(range(32))).decode()


@dataclass
class Regions:
    tmp: Path
    config: Path
    a: list[AgentProcess]
    b: AgentProcess
    spares: list[AgentProcess] = field(default_factory=list)


def _server(tmp: Path, config: Path, name: str, region: str, *extra: str) -> AgentProcess:
    args = ["-server", "-config", str(config), "-data-dir", str(tmp / name), "-node", name]
    args += ["-encrypt", KEY]
    return AgentProcess([*args, "-region", region, *extra], tmp / f"{name}.log")


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Runtime(stdout=out, stderr=err, stdin=io.StringIO(""), env={}))
    return code, out.getvalue(), err.getvalue()


def _regions(server: AgentProcess) -> list[str]:
    try:
        return list(httpx.get(f"{server.address}/v1/regions", timeout=5).json())
    except httpx.HTTPError:
        return []


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    tmp = tmp_path_factory.mktemp("regions")
    config = tmp / "federation.hcl"
    config.write_text(FEDERATION)
    rpc = [free_port() for _ in range(3)]
    join = ",".join(f"127.0.0.1:{p}" for p in rpc)
    a = []
    for i in range(3):
        server = _server(tmp, config, f"a{i}", "a", "-bootstrap-expect", "3", "-retry-join", join)
        server.rpc_port = rpc[i]
        a.append(server.start(wait=False))
    b = _server(tmp, config, "b0", "b").start(wait=False)
    cluster = Regions(tmp, config, a, b)
    try:
        for s in [*a, b]:
            s.wait_ready()
        # federate: region a's agent joins b's server by its HTTP address
        code, out, err = _cli(
            "server", "join", "-address", a[1].address, f"127.0.0.1:{b.http_port}"
        )
        assert code == 0, err
        assert out.strip() == "Joined 1 servers successfully"
        for s in [*a, b]:
            wait_for(lambda s=s: _regions(s) == ["a", "b"], what=f"both regions on {s.address}")
        yield cluster
    finally:
        for s in [*a, b, *cluster.spares]:
            s.kill()


def _job(job_id: str, region: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": job_id,
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Count": 1,
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sleep", "args": ["60"]},
                        "Resources": {"CPU": 20, "MemoryMB": 16},
                    }
                ],
            }
        ],
    }
    if region is not None:
        job["Region"] = region
    return {"Job": job}


def _leader_of(servers: list[AgentProcess]) -> AgentProcess:
    leader = httpx.get(f"{servers[0].address}/v1/status/leader", timeout=5).json()
    return next(s for s in servers if leader.endswith(f":{s.rpc_port}"))


def _follower_of(servers: list[AgentProcess]) -> AgentProcess:
    leader = _leader_of(servers)
    return next(s for s in servers if s is not leader)


def test_members_and_regions_span_both_regions(regions: Regions) -> None:
    a, b = regions.a, regions.b
    members = httpx.get(f"{a[0].address}/v1/agent/members", timeout=5).json()["Members"]
    by_name = {m["Name"]: m for m in members}
    assert sorted(by_name) == ["a0.a", "a1.a", "a2.a", "b0.b"]
    assert by_name["b0.b"]["Tags"]["region"] == "b"
    assert by_name["b0.b"]["Tags"]["port"] == str(b.rpc_port)
    assert all(m["Status"] == "alive" for m in members)
    # b's view holds a's servers too, learnt from the join and the gossip
    from_b = httpx.get(f"{b.address}/v1/agent/members", timeout=5).json()["Members"]
    assert sorted(m["Name"] for m in from_b) == ["a0.a", "a1.a", "a2.a", "b0.b"]

    code, out, err = _cli("server", "members", "-address", a[2].address)
    assert code == 0, err
    rows = [line.split() for line in out.strip().splitlines()]
    header = "Name Address Port Status Leader Raft Version Build Datacenter Region"
    assert rows[0] == header.split()
    b_row = next(r for r in rows if r[0] == "b0.b")
    # the leader of b, asked through a (?region=b), is b0
    assert b_row[3:5] == ["alive", "true"] and b_row[-1] == "b"
    assert sum(1 for r in rows[1:] if r[-1] == "a" and r[4] == "true") == 1
    self_b = httpx.get(f"{a[0].address}/v1/agent/self", timeout=5).json()
    assert self_b["stats"]["nomad"]["known_regions"] == "2"


def test_job_of_region_b_through_region_a(regions: Regions) -> None:
    a, b = regions.a, regions.b
    follower = _follower_of(a)
    r = httpx.put(f"{follower.address}/v1/jobs", params={"region": "b"}, json=_job("in-b"))
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Nomad-Index"]) >= 1 and r.json()["EvalID"]
    # only b has it; any server of a reads it from b
    assert httpx.get(f"{b.address}/v1/job/in-b").status_code == 200
    for s in a:
        assert httpx.get(f"{s.address}/v1/job/in-b").status_code == 404
        got = httpx.get(f"{s.address}/v1/job/in-b", params={"region": "b"})
        assert got.status_code == 200 and got.json()["ID"] == "in-b"
    assert [j["ID"] for j in httpx.get(f"{a[0].address}/v1/jobs").json()] == []

    # Job.Region names the region when the query does not
    r = httpx.put(f"{a[0].address}/v1/jobs", json=_job("named-b", region="b"))
    assert r.status_code == 200, r.text
    assert httpx.get(f"{b.address}/v1/job/named-b").json()["Region"] == "b"
    assert httpx.get(f"{a[0].address}/v1/job/named-b").status_code == 404
    # ... and the CLI's job run sends exactly that
    spec = regions.tmp / "cli-b.nomad.hcl"
    spec.write_text(
        'job "cli-b" {\n  region = "b"\n  datacenters = ["dc1"]\n  group "g" {\n'
        '    task "t" {\n      driver = "raw_exec"\n'
        '      config {\n        command = "/bin/sleep"\n        args = ["60"]\n      }\n'
        "    }\n  }\n}\n"
    )
    code, out, err = _cli("job", "run", "-detach", "-address", a[2].address, str(spec))
    assert code == 0, err
    assert httpx.get(f"{b.address}/v1/job/cli-b").status_code == 200
    code, out, err = _cli("job", "status", "-region", "b", "-address", a[0].address, "cli-b")
    assert code == 0, err
    assert "cli-b" in out

    # stop through a: b's job is stopped, a still has none
    r = httpx.delete(f"{a[2].address}/v1/job/in-b", params={"region": "b"})
    assert r.status_code == 200, r.text
    assert httpx.get(f"{b.address}/v1/job/in-b").json()["Stop"] is True


def test_blocking_query_and_event_stream_go_through(regions: Regions) -> None:
    a, b = regions.a, regions.b
    assert httpx.put(f"{b.address}/v1/jobs", json=_job("watched")).status_code == 200

    def settled() -> bool:
        evals = httpx.get(f"{b.address}/v1/job/watched/evaluations").json()
        return bool(evals) and all(e["Status"] != "pending" for e in evals)

    # the scheduler is done with it (no client in b: its eval stays blocked)
    wait_for(settled, what="the job's evaluation processed")
    index = int(httpx.get(f"{b.address}/v1/job/watched").headers["X-Nomad-Index"])
    result: dict[str, httpx.Response] = {}

    def block() -> None:
        result["r"] = httpx.get(
            f"{a[1].address}/v1/job/watched",
            params={"region": "b", "index": str(index), "wait": "20s"},
            timeout=30,
        )

    waiter = threading.Thread(target=block)
    started = time.monotonic()
    waiter.start()
    # the forwarded query is still waiting in b
    waiter.join(0.5)
    assert waiter.is_alive() and "r" not in result
    job = _job("watched")
    job["Job"]["Meta"] = {"v": "2"}
    assert httpx.put(f"{b.address}/v1/jobs", json=job).status_code == 200
    waiter.join(15)
    answer = result["r"]
    assert answer.status_code == 200
    assert int(answer.headers["X-Nomad-Index"]) > index
    assert answer.json()["Meta"] == {"v": "2"}
    assert time.monotonic() - started < 10

    # the event stream flows through a as b emits it (not buffered)
    params = {"region": "b", "topic": "Job:streamed", "index": "0"}
    with httpx.stream("GET", f"{a[0].address}/v1/event/stream", params=params, timeout=30) as s:
        assert s.status_code == 200
        lines = s.iter_lines()
        assert next(lines) == "{}"
        assert httpx.put(f"{b.address}/v1/jobs", json=_job("streamed")).status_code == 200
        for line in lines:
            if line.strip() and line != "{}":
                events = json.loads(line)["Events"]
                assert {e["Key"] for e in events} == {"streamed"}
                break


def test_unknown_region_and_loops_are_refused(regions: Regions) -> None:
    a, b = regions.a, regions.b
    r = httpx.get(f"{a[0].address}/v1/jobs", params={"region": "nowhere"}, timeout=10)
    assert r.status_code == 500
    assert r.text.startswith("No path to region") and '"nowhere"' in r.text
    # a request already forwarded once is never forwarded again
    r = httpx.get(f"{b.address}/v1/jobs", params={"region": "a"}, headers={HOP: "c"}, timeout=10)
    assert r.status_code == 500 and "not forwarded twice" in r.text
    # a push into the WAN table without the gossip key's signature is refused
    fake = {"Regions": {"b": [{"Name": "evil", "Region": "b", "Addr": "127.0.0.1:1"}]}}
    r = httpx.put(f"{a[0].address}/v1/internal/federation", json=fake, timeout=10)
    assert r.status_code == 403
    # with the marker and the right region it is simply answered
    r = httpx.get(f"{b.address}/v1/jobs", params={"region": "b"}, headers={HOP: "a"})
    assert r.status_code == 200


def test_a_client_agent_hands_other_regions_requests_to_its_servers(regions: Regions) -> None:
    a, b = regions.a, regions.b

    def registered(agent: AgentProcess) -> bool:
        nodes = httpx.get(f"{a[0].address}/v1/nodes", timeout=2).json()
        return any(n["Name"] == "a-client" and n["Status"] == "ready" for n in nodes)

    servers = ",".join(f"127.0.0.1:{s.http_port}" for s in a)
    args = ["-client", "-region", "a", "-node", "a-client", "-servers", servers]
    client = AgentProcess(
        [*args, "-data-dir", str(regions.tmp / "c")],
        regions.tmp / "client.log",
        ready=registered,
    )
    regions.spares.append(client)
    client.start()
    assert httpx.put(f"{b.address}/v1/jobs", json=_job("via-client")).status_code == 200
    r = httpx.get(f"{client.address}/v1/job/via-client", params={"region": "b"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["ID"] == "via-client"
    client.kill()


def test_region_b_dies_then_comes_back(regions: Regions) -> None:
    a, b = regions.a, regions.b
    b.kill()
    started = time.monotonic()
    r = httpx.get(f"{a[0].address}/v1/jobs", params={"region": "b"}, timeout=15)
    assert r.status_code == 500, r.text
    assert r.text.startswith("No path to region") and '"b"' in r.text
    assert time.monotonic() - started < 5
    # region a keeps working: writes and reads
    r = httpx.put(f"{_follower_of(a).address}/v1/jobs", json=_job("in-a"))
    assert r.status_code == 200, r.text
    assert httpx.get(f"{a[2].address}/v1/job/in-a").status_code == 200
    wait_for(
        lambda: (
            next(
                m["Status"]
                for m in httpx.get(f"{a[1].address}/v1/agent/members").json()["Members"]
                if m["Name"] == "b0.b"
            )
            == "failed"
        ),
        what="b0 marked failed",
    )
    for s in a:
        wait_for(lambda s=s: _regions(s) == ["a"], timeout=15, what=f"b dropped on {s.address}")
    r = httpx.get(f"{a[0].address}/v1/jobs", params={"region": "b"}, timeout=15)
    assert r.status_code == 500 and "is not known" in r.text

    # a new server of b finds a by itself (-retry-join-wan: an HTTP address of a)
    again = _server(
        regions.tmp, regions.config, "b1", "b", "-retry-join-wan", f"127.0.0.1:{a[2].http_port}"
    )
    regions.spares.append(again)
    again.start()
    for s in a:
        wait_for(lambda s=s: _regions(s) == ["a", "b"], what=f"b back on {s.address}")
    r = httpx.put(f"{a[0].address}/v1/jobs", params={"region": "b"}, json=_job("b-again"))
    assert r.status_code == 200, r.text
    assert httpx.get(f"{again.address}/v1/job/b-again").status_code == 200
