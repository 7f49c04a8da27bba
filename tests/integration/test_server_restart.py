"""A server with -data-dir keeps its state across SIGKILL and restart."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.agents import AgentProcess
from tests.job_support import raw_exec_job


def test_sigkilled_server_restarts_with_its_jobs(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    server = AgentProcess(["-server", "-data-dir", str(data_dir)], tmp_path / "agent.log")
    server.start()
    try:
        ids = [f"persist-{i}" for i in range(3)]
        for job_id in ids:
            body = raw_exec_job(job_id)
            assert httpx.put(f"{server.address}/v1/jobs", json=body).status_code == 200
        before = httpx.get(f"{server.address}/v1/jobs").json()
        evals_before = httpx.get(f"{server.address}/v1/evaluations").json()
        server.kill()

        restarted = AgentProcess(
            ["-server", "-data-dir", str(data_dir)],
            tmp_path / "agent.log",
            http_port=server.http_port,
            rpc_port=server.rpc_port,
        ).start()
        server = restarted
        after = httpx.get(f"{server.address}/v1/jobs").json()
        assert sorted(j["ID"] for j in after) == ids
        assert [(j["ID"], j["JobModifyIndex"]) for j in after] == [
            (j["ID"], j["JobModifyIndex"]) for j in before
        ]
        evals_after = httpx.get(f"{server.address}/v1/evaluations").json()
        assert {e["ID"] for e in evals_after} >= {e["ID"] for e in evals_before}
        # the restarted server keeps accepting writes with growing indexes
        body = raw_exec_job("after-restart", count=0)
        resp = httpx.put(f"{server.address}/v1/jobs", json=body)
        assert resp.status_code == 200
        assert resp.json()["JobModifyIndex"] > max(j["JobModifyIndex"] for j in before)
    finally:
        server.kill()
