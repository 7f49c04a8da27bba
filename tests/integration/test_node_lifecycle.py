"""Node lifecycle with real processes: one server and two client agents.

A silent client is marked down, its alloc lost and replaced on the other
client, and stopped when the client comes back; `node drain` moves a
service job off a node one alloc at a time (migrate.max_parallel = 1);
`node status` and the stats endpoints report real measurements.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.agents import AgentProcess
from tests.cli_support import CliResult, run_cli
from tests.waiting import wait_for

SEC = 1_000_000_000
# short TTLs so a silent client is down within ~3 s (TTL 1-2 s + 1 s grace)
SERVER_HCL = """
server {
  min_heartbeat_ttl = "1s"
  heartbeat_grace   = "1s"
}
"""


@dataclass
class Cluster:
    server: AgentProcess
    clients: dict[str, AgentProcess]  # node name -> its client agent
    tmp: Path

    def get(self, path: str, **params: Any) -> Any:
        resp = httpx.get(f"{self.server.address}{path}", params=params, timeout=10)
        assert resp.status_code == 200, f"GET {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def put(self, path: str, body: Any) -> Any:
        resp = httpx.put(f"{self.server.address}{path}", json=body, timeout=10)
        assert resp.status_code == 200, f"PUT {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def node(self, name: str) -> dict[str, Any]:
        stub = next(n for n in self.get("/v1/nodes") if n["Name"] == name)
        node: dict[str, Any] = self.get(f"/v1/node/{stub['ID']}")
        return node

    def eligible(self, name: str, eligible: bool) -> None:
        node_id = self.node(name)["ID"]
        value = "eligible" if eligible else "ineligible"
        self.put(f"/v1/node/{node_id}/eligibility", {"NodeID": node_id, "Eligibility": value})

    def allocs(self, job_id: str) -> list[dict[str, Any]]:
        allocs: list[dict[str, Any]] = self.get(f"/v1/job/{job_id}/allocations")
        return allocs

    def running(self, job_id: str) -> list[dict[str, Any]]:
        return [a for a in self.allocs(job_id) if a["ClientStatus"] == "running"]

    def cli(self, *argv: str) -> CliResult:
        return run_cli(self.server.address, *argv)

    def stop_job(self, job_id: str) -> None:
        httpx.delete(f"{self.server.address}/v1/job/{job_id}", params={"purge": "true"})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("lifecycle")
    config = tmp / "server.hcl"
    config.write_text(SERVER_HCL)
    server = AgentProcess(
        ["-server", "-data-dir", str(tmp / "server"), "-config", str(config)], tmp / "server.log"
    ).start()
    clients: dict[str, AgentProcess] = {}
    try:
        for name in ("worker-a", "worker-b"):

            def registered(agent: AgentProcess, name: str = name) -> bool:
                nodes = httpx.get(f"{server.address}/v1/nodes", timeout=2).json()
                return any(n["Name"] == name and n["Status"] == "ready" for n in nodes)

            clients[name] = AgentProcess(
                [
                    "-client",
                    "-servers",
                    f"127.0.0.1:{server.http_port}",
                    "-node",
                    name,
                    "-data-dir",
                    str(tmp / name),
                ],
                tmp / f"{name}.log",
                ready=registered,
            ).start()
        yield Cluster(server, clients, tmp)
    finally:
        for client in clients.values():
            if client.proc is not None and client.proc.poll() is None:
                os.killpg(client.proc.pid, signal.SIGCONT)
            client.kill()
        server.kill()


@pytest.fixture
def ready(cluster: Cluster) -> Cluster:
    """Both clients up and eligible, whatever an earlier test left."""
    for name in cluster.clients:
        wait_for(lambda n=name: cluster.node(n)["Status"] == "ready", what=f"{name} ready")
        cluster.eligible(name, True)
    return cluster


def _service(job_id: str, args: list[str], count: int = 1, **group: Any) -> dict[str, Any]:
    task = {
        "Name": "t",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/sh", "args": args},
        "Resources": {"CPU": 100, "MemoryMB": 64},
        "KillTimeout": SEC,
    }
    tg = {"Name": "g", "Count": count, "Tasks": [task], **group}
    return {"Job": {"ID": job_id, "Type": "service", "TaskGroups": [tg]}}


def _placed_on(cluster: Cluster, job_id: str, count: int, node_name: str) -> list[dict]:
    node_id = cluster.node(node_name)["ID"]

    def placed() -> list[dict] | None:
        running = cluster.running(job_id)
        ok = len(running) == count and all(a["NodeID"] == node_id for a in running)
        return running if ok else None

    result: list[dict] = wait_for(placed, timeout=30, what=f"{job_id} running on {node_name}")
    return result


def _started_at(alloc: dict[str, Any]) -> float:
    text = alloc["TaskStates"]["t"]["StartedAt"]
    return datetime.fromisoformat(text.replace("Z", "+00:00")[:26] + "+00:00").timestamp()


def test_silent_client_is_marked_down_its_alloc_lost_replaced_and_stopped_on_return(
    ready: Cluster,
) -> None:
    cluster = ready
    pid_dir = cluster.tmp / "pids"
    pid_dir.mkdir(exist_ok=True)
    cluster.eligible("worker-b", False)
    script = f'echo $$ > {pid_dir}/"$NOMAD_ALLOC_ID".pid; exec sleep 600'
    cluster.put("/v1/jobs", _service("lost", ["-c", script]))
    (old,) = _placed_on(cluster, "lost", 1, "worker-a")
    cluster.eligible("worker-b", True)
    pid_file = pid_dir / f"{old['ID']}.pid"
    wait_for(pid_file.exists, what="the task's pid file")
    task_pid = int(pid_file.read_text())
    assert psutil.pid_exists(task_pid)

    client_a = cluster.clients["worker-a"]
    assert client_a.proc is not None
    os.killpg(client_a.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: cluster.node("worker-a")["Status"] == "down", what="worker-a down")
        node_a = cluster.node("worker-a")
        assert "Node heartbeat missed" in [e["Message"] for e in node_a["Events"]]

        def lost_and_replaced() -> bool:
            allocs = {a["ID"]: a for a in cluster.allocs("lost")}
            gone = allocs[old["ID"]]
            new = [a for a in allocs.values() if a["ID"] != old["ID"]]
            return (
                (gone["ClientStatus"], gone["DesiredStatus"]) == ("lost", "stop")
                and len(new) == 1
                and new[0]["ClientStatus"] == "running"
                and new[0]["NodeID"] == cluster.node("worker-b")["ID"]
            )

        wait_for(lost_and_replaced, timeout=20, what="lost alloc replaced on worker-b")
        # a silent client cannot stop anything: its task is still there
        assert psutil.pid_exists(task_pid)
    finally:
        os.killpg(client_a.proc.pid, signal.SIGCONT)

    wait_for(lambda: cluster.node("worker-a")["Status"] == "ready", what="worker-a back")

    def stale_task_gone() -> bool:
        try:
            return psutil.Process(task_pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(stale_task_gone, timeout=20, what="the returning client to stop its stale task")
    stale = next(a for a in cluster.allocs("lost") if a["ID"] == old["ID"])
    assert stale["DesiredStatus"] == "stop"
    running = cluster.running("lost")
    assert [a["NodeID"] for a in running] == [cluster.node("worker-b")["ID"]], "no duplicate"
    cluster.stop_job("lost")


def test_drain_moves_allocs_one_at_a_time_and_completes(ready: Cluster) -> None:
    cluster = ready
    cluster.eligible("worker-b", False)
    migrate = {"MaxParallel": 1, "HealthCheck": "task_states", "MinHealthyTime": SEC}
    job = _service(
        "mover", ["-c", "exec sleep 600"], count=2, Migrate=migrate, Update={"MaxParallel": 0}
    )
    cluster.put("/v1/jobs", job)
    originals = _placed_on(cluster, "mover", 2, "worker-a")
    cluster.eligible("worker-b", True)
    node_a = cluster.node("worker-a")

    code, out, err = cluster.cli(
        "node", "drain", "-enable", "-yes", "-deadline", "1m", node_a["ID"]
    )
    assert code == 0, err
    lines = [line.split(": ", 1)[1] for line in out.splitlines()]
    assert sorted(line for line in lines if line.endswith("marked for migration")) == sorted(
        f'Alloc "{a["ID"]}" marked for migration' for a in originals
    )
    assert f'Node "{node_a["ID"]}" has marked all allocations for migration' in lines
    assert lines[-1] == f'All allocations on node "{node_a["ID"]}" have stopped.'

    node_a = cluster.node("worker-a")
    assert (node_a["Drain"], node_a["DrainStrategy"], node_a["SchedulingEligibility"]) == (
        False,
        None,
        "ineligible",
    )
    assert node_a["LastDrain"]["Status"] == "complete"
    assert node_a["Events"][-1]["Message"] == "Node drain complete"

    allocs = {a["ID"]: a for a in cluster.allocs("mover")}
    for original in originals:
        moved = allocs[original["ID"]]
        assert moved["DesiredStatus"] == "stop"
        assert moved["DesiredDescription"] == "alloc is being migrated"
        assert moved["DesiredTransition"]["Migrate"] is True
    node_b = cluster.node("worker-b")["ID"]

    def moved_to_b() -> list[dict[str, Any]] | None:
        running = cluster.running("mover")
        on_b = [a for a in running if a["NodeID"] == node_b and a["TaskStates"]]
        return on_b if len(running) == len(on_b) == 2 else None

    replacements = wait_for(moved_to_b, what="both replacements running on worker-b")
    replacements = [cluster.get(f"/v1/allocation/{a['ID']}") for a in replacements]
    assert {a["PreviousAllocation"] for a in replacements} == {a["ID"] for a in originals}
    first, second = sorted(replacements, key=lambda a: a["CreateTime"])
    # max_parallel = 1: the second alloc moved only after the first
    # replacement had run for migrate.min_healthy_time
    assert second["CreateTime"] / SEC >= _started_at(first) + 1.0

    assert cluster.cli("node", "eligibility", "-enable", node_a["ID"])[0] == 0
    cluster.stop_job("mover")


def test_stats_endpoints_and_node_status_report_real_measurements(ready: Cluster) -> None:
    cluster = ready
    cluster.put("/v1/jobs", _service("burn", ["-c", "while :; do :; done"]))
    (alloc,) = wait_for(lambda: cluster.running("burn") or None, what="burn running")
    try:
        node = cluster.get(f"/v1/node/{alloc['NodeID']}")

        # through the server (proxied to the node's client) ...
        def busy() -> dict[str, Any] | None:
            stats: dict[str, Any] = cluster.get(f"/v1/client/allocation/{alloc['ID']}/stats")
            cpu = stats["ResourceUsage"]["CpuStats"]
            return stats if cpu["Percent"] > 10 and cpu["TotalTicks"] > 0 else None

        stats = wait_for(busy, what="alloc CPU usage measured")
        assert stats["ResourceUsage"]["MemoryStats"]["RSS"] > 0
        task = stats["Tasks"]["t"]["ResourceUsage"]
        assert task["MemoryStats"]["RSS"] == stats["ResourceUsage"]["MemoryStats"]["RSS"]
        assert stats["Timestamp"] > 0

        host = cluster.get("/v1/client/stats", node_id=node["ID"])
        assert host["Memory"]["Total"] == psutil.virtual_memory().total
        assert 0 < host["Memory"]["Used"] < host["Memory"]["Total"]
        assert len(host["CPU"]) == psutil.cpu_count()
        assert host["Uptime"] > 0 and host["CPUTicksConsumed"] > 0
        assert any(d["Mountpoint"] == "/" and d["Size"] > 0 for d in host["DiskStats"])
        # ... and from the client agent itself
        own = httpx.get(f"{cluster.clients[node['Name']].address}/v1/client/stats").json()
        assert own["Memory"]["Total"] == host["Memory"]["Total"]

        code, out, err = cluster.cli("node", "status", node["ID"])
        assert code == 0, err
        total_cpu = node["NodeResources"]["Cpu"]["CpuShares"]
        allocated = out.split("\n\nAllocated Resources\n", 1)[1].splitlines()
        assert allocated[0].split() == ["CPU", "Memory", "Disk"]
        assert allocated[1].split()[:3] == [f"100/{total_cpu}", "MHz", "64"]
        assert "\n\nAllocation Resource Utilization\nCPU" in out
        assert "\n\nHost Resource Utilization\nCPU" in out
        assert "Uptime" in out and err == ""
    finally:
        cluster.stop_job("burn")
