"""A server process and a separate client process: placement, logs through the server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.agents import AgentProcess
from tests.waiting import wait_for


def test_job_runs_on_a_separate_client_and_logs_come_through_the_server(tmp_path: Path) -> None:
    server = AgentProcess(["-server", "-data-dir", str(tmp_path / "server")],
                          tmp_path / "server.log").start()
    client = None
    try:
        def registered(agent: AgentProcess) -> bool:
            nodes = httpx.get(f"{server.address}/v1/nodes", timeout=2).json()
            return any(n["Name"] == "worker-1" and n["Status"] == "ready" for n in nodes)

        client = AgentProcess(
            ["-client", "-servers", f"127.0.0.1:{server.http_port}", "-node", "worker-1",
             "-data-dir", str(tmp_path / "client")],
            tmp_path / "client.log",
            ready=registered,
        ).start()

        node = httpx.get(f"{server.address}/v1/nodes").json()[0]
        full = httpx.get(f"{server.address}/v1/node/{node['ID']}").json()
        assert full["HTTPAddr"] == f"127.0.0.1:{client.http_port}"
        assert full["Drivers"]["raw_exec"]["Detected"] is True

        body = {"Job": {"ID": "remote", "Type": "batch", "TaskGroups": [
            {"Name": "g", "Count": 1, "Tasks": [{
                "Name": "say", "Driver": "raw_exec",
                "Config": {"command": "/bin/sh",
                           "args": ["-c", "echo from ${node.unique.name} $NOMAD_JOB_ID"]},
            }]}]}}
        assert httpx.put(f"{server.address}/v1/jobs", json=body).status_code == 200

        def complete() -> dict[str, object] | None:
            allocs = httpx.get(f"{server.address}/v1/job/remote/allocations").json()
            return next((a for a in allocs if a["ClientStatus"] == "complete"), None)

        alloc = wait_for(complete, timeout=30, what="batch alloc complete on the client")
        assert alloc["NodeID"] == node["ID"]

        # the server proxies log reads to the client agent that has the files
        params = {"task": "say", "type": "stdout", "plain": "true"}
        logs = httpx.get(f"{server.address}/v1/client/fs/logs/{alloc['ID']}", params=params)
        assert logs.status_code == 200, logs.text
        assert logs.text == "from worker-1 remote\n"
        framed = httpx.get(f"{server.address}/v1/client/fs/logs/{alloc['ID']}",
                           params={"task": "say", "type": "stdout"})
        assert json.loads(framed.text)["File"] == "alloc/logs/say.stdout.0"

        self_info = httpx.get(f"{client.address}/v1/agent/self").json()
        assert self_info["stats"]["client"]["node_id"] == node["ID"]
        assert "nomad" not in self_info["stats"]  # a client-only agent is no server
    finally:
        if client is not None:
            client.kill()
        server.kill()
