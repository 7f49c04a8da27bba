"""A client process killed with SIGKILL and started again on the same data
dir reattaches to its tasks: a raw_exec process and a docker container keep
their PID / container ID across three kill-and-restart cycles, with no
restart and no new task event, while the allocation stays running on the
server (a separate process). Stopping the job afterwards still stops both.
"""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import docker
import httpx
import psutil
import pytest

from tests.agents import AgentProcess
from tests.waiting import wait_for

pytestmark = pytest.mark.docker

JOB_ID = "reattach"
CYCLES = 3


def _job(image: str) -> dict[str, Any]:
    second = 1_000_000_000
    return {
        "Job": {
            "ID": JOB_ID,
            "Type": "service",
            "TaskGroups": [
                {
                    "Name": "g",
                    "Count": 1,
                    "RestartPolicy": {
                        "Attempts": 0,
                        "Interval": 60 * second,
                        "Delay": 0,
                        "Mode": "fail",
                    },
                    "Tasks": [
                        {
                            "Name": "proc",
                            "Driver": "raw_exec",
                            "Config": {
                                "command": "/bin/sh",
                                "args": ["-c", 'echo $$ > "$NOMAD_TASK_DIR/pid"; exec sleep 600'],
                            },
                            "KillTimeout": 2 * second,
                        },
                        {
                            "Name": "box",
                            "Driver": "docker",
                            "Config": {"image": image, "command": "sleep", "args": ["600"]},
                            "KillTimeout": 1 * second,
                            "Resources": {"CPU": 100, "MemoryMB": 64},
                        },
                    ],
                }
            ],
        }
    }


def _alloc(server: AgentProcess) -> dict[str, Any] | None:
    allocs = httpx.get(f"{server.address}/v1/job/{JOB_ID}/allocations", timeout=5).json()
    return allocs[0] if len(allocs) == 1 else None


def _full(server: AgentProcess, alloc_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.address}/v1/allocation/{alloc_id}", timeout=5).json()
    return body


def _handles(data_dir: Path, alloc_id: str) -> dict[str, Any]:
    """The task handles the client persisted for the allocation."""
    path = data_dir / "client" / "allocs" / f"{alloc_id}.json"
    handles: dict[str, Any] = json.loads(path.read_text())["handles"]
    return handles


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _container(engine: docker.DockerClient, cid: str) -> dict[str, Any] | None:
    try:
        attrs: dict[str, Any] = engine.api.inspect_container(cid)
    except docker.errors.NotFound:
        return None
    return attrs


def test_raw_exec_and_docker_tasks_survive_client_restarts(
    tmp_path: Path, docker_engine: docker.DockerClient, docker_image: str
) -> None:
    server = AgentProcess(
        ["-server", "-data-dir", str(tmp_path / "server")], tmp_path / "server.log"
    ).start()
    client_dir = tmp_path / "client"
    args = [
        "-client",
        "-servers",
        f"127.0.0.1:{server.http_port}",
        "-node",
        "worker-1",
        "-data-dir",
        str(client_dir),
    ]

    def ready(agent: AgentProcess) -> bool:
        # the new process answers itself, and the server has its node ready
        httpx.get(f"{agent.address}/v1/agent/self", timeout=2).raise_for_status()
        nodes = httpx.get(f"{server.address}/v1/nodes", timeout=2).json()
        return any(n["Name"] == "worker-1" and n["Status"] == "ready" for n in nodes)

    client = AgentProcess(args, tmp_path / "client.log", ready=ready).start()
    pid = 0
    alloc_id = ""
    try:
        resp = httpx.put(f"{server.address}/v1/jobs", json=_job(docker_image), timeout=10)
        assert resp.status_code == 200, resp.text

        def running() -> dict[str, Any] | None:
            alloc = _alloc(server)
            if alloc is None or alloc["ClientStatus"] != "running":
                return None
            states = alloc.get("TaskStates") or {}
            ok = all(states.get(t, {}).get("State") == "running" for t in ("proc", "box"))
            return alloc if ok else None

        alloc_id = wait_for(running, timeout=30, what="both tasks running")["ID"]
        pid_file = client_dir / "alloc" / alloc_id / "proc" / "local" / "pid"
        pid = int(wait_for(lambda: pid_file.read_text().strip(), what="the task's pid file"))
        cid = _handles(client_dir, alloc_id)["box"]["State"]["container_id"]
        box = _container(docker_engine, cid)
        assert box is not None and box["State"]["Running"]
        started_at = box["State"]["StartedAt"]
        before = _full(server, alloc_id)["TaskStates"]

        for cycle in range(CYCLES):
            client.kill(signal.SIGKILL)
            assert _alive(pid), f"cycle {cycle}: the task died with the client"
            client = AgentProcess(
                args,
                client.log_path,
                http_port=client.http_port,
                rpc_port=client.rpc_port,
                ready=ready,
            ).start()

            def restored(address: str = client.address) -> bool:
                # the new process serves the allocation's logs: its runner is back
                r = httpx.get(
                    f"{address}/v1/client/fs/logs/{alloc_id}",
                    params={"task": "proc", "type": "stdout", "plain": "true"},
                    timeout=5,
                )
                return r.status_code == 200

            wait_for(restored, timeout=15, what=f"cycle {cycle}: alloc restored")
            assert _alive(pid) and pid_file.read_text().strip() == str(pid)
            assert _handles(client_dir, alloc_id)["box"]["State"]["container_id"] == cid
            box = _container(docker_engine, cid)
            assert box is not None and box["State"]["Running"]
            assert box["State"]["StartedAt"] == started_at, "the container was not restarted"
            alloc = _full(server, alloc_id)
            assert alloc["ClientStatus"] == "running"
            # no restart and no new task event: the server holds what it held
            assert alloc["TaskStates"] == before

        # the restarted client still controls both tasks
        assert httpx.delete(f"{server.address}/v1/job/{JOB_ID}", timeout=10).status_code == 200
        done = wait_for(
            lambda: (a := _alloc(server)) is not None and a["ClientStatus"] == "complete" and a,
            timeout=30,
            what="the allocation stopped",
        )
        for task in ("proc", "box"):
            events = [e["Type"] for e in done["TaskStates"][task]["Events"]]
            assert events[-3:] == ["Killing", "Terminated", "Killed"], (task, events)
        wait_for(lambda: not _alive(pid), what="the raw_exec process gone")
        wait_for(
            lambda: (c := _container(docker_engine, cid)) is None or not c["State"]["Running"],
            what="the container stopped",
        )
    finally:
        client.kill()
        server.kill()
        # a failed run may leave task processes behind: those working in this
        # test's data dir are its own
        for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
            owned = str(client_dir) in " ".join(proc.info["cmdline"] or []) + (
                proc.info["cwd"] or ""
            )
            if owned or (pid and proc.info["pid"] == pid):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        if alloc_id:
            # whatever the test left behind (the container name carries the alloc ID)
            for c in docker_engine.containers.list(all=True, filters={"name": alloc_id}):
                with contextlib.suppress(docker.errors.APIError):
                    c.remove(force=True)
