"""Periodic jobs with real agents: launches on a seconds cron, `periodic force`,
prohibit_overlap, `job status`, and a leader failover in a 3-server cluster
that neither launches a scheduled time twice nor skips one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from nomadtui.cli.format import from_rfc3339
from tests.agents import AgentProcess
from tests.cli_support import CliResult, run_cli
from tests.cluster_support import leader_of, start_servers
from tests.job_support import raw_exec_job
from tests.waiting import wait_for


def _periodic(
    job_id: str, cron: str, script: str = "true", overlap: bool = False, count: int = 1
) -> dict[str, Any]:
    periodic = {"Specs": [cron], "ProhibitOverlap": overlap, "TimeZone": "UTC"}
    return raw_exec_job(
        job_id, script, count=count, job_type="batch", resources=(50, 32), Periodic=periodic
    )


def _children(api: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    jobs = api.get("/v1/jobs", params={"prefix": f"{job_id}/"}).json()
    return sorted((j for j in jobs if j["ParentID"] == job_id), key=lambda j: j["ID"])


def _launch_time(child_id: str) -> int:
    return int(child_id.rsplit("-", 1)[1])


@pytest.fixture
def registered(api: httpx.Client) -> Iterator[list[str]]:
    """Job IDs a test registers; they and their children are purged after it."""
    ids: list[str] = []
    yield ids
    for job_id in ids:
        api.delete(f"/v1/job/{job_id}", params={"purge": "true"})
        for child in _children(api, job_id):
            api.delete(f"/v1/job/{child['ID']}", params={"purge": "true"})


def _cli(agent: Agent, *argv: str) -> CliResult:
    return run_cli(f"http://{agent.config.http_addr}", *argv)


def test_seconds_cron_launches_children_on_schedule(
    api: httpx.Client, registered: list[str]
) -> None:
    registered.append("tick")
    resp = api.put("/v1/jobs", json=_periodic("tick", "*/2 * * * * * *"))
    assert resp.status_code == 200 and resp.json()["EvalID"] == ""
    kids = wait_for(lambda: len(_children(api, "tick")) >= 2 and _children(api, "tick"))
    times = [_launch_time(k["ID"]) for k in kids]
    assert all(t % 2 == 0 for t in times) and times[1] - times[0] == 2
    child = api.get(f"/v1/job/{kids[0]['ID']}").json()
    assert child["ParentID"] == "tick" and child["Periodic"] is None
    (ev,) = api.get(f"/v1/job/{kids[0]['ID']}/evaluations").json()
    assert ev["TriggeredBy"] == "periodic-job"
    parent = api.get("/v1/job/tick").json()
    assert parent["Status"] == "running"
    wait_for(lambda: api.get("/v1/job/tick/summary").json()["Children"]["Dead"] >= 2)
    api.delete("/v1/job/tick")
    assert api.get("/v1/job/tick").json()["Status"] == "dead"


def test_force_and_status(dev_agent: Agent, api: httpx.Client, registered: list[str]) -> None:
    registered.append("yearly")
    plan = api.put("/v1/job/yearly/plan", json=_periodic("yearly", "@yearly")).json()
    next_year = datetime.now(UTC).year + 1
    assert plan["NextPeriodicLaunch"] == f"{next_year}-01-01T00:00:00Z"
    assert api.put("/v1/jobs", json=_periodic("yearly", "@yearly")).status_code == 200
    resp = api.put("/v1/job/yearly/periodic/force")
    assert resp.status_code == 200, resp.text
    forced = resp.json()
    (child,) = _children(api, "yearly")
    assert re.fullmatch(r"yearly/periodic-\d+", child["ID"])
    (ev,) = api.get(f"/v1/job/{child['ID']}/evaluations").json()
    assert forced["EvalID"] == ev["ID"] and forced["EvalCreateIndex"] == ev["CreateIndex"]
    wait_for(lambda: api.get(f"/v1/job/{child['ID']}").json()["Status"] == "dead")

    code, out, err = _cli(dev_agent, "job", "periodic", "force", "-detach", "yearly")
    assert code == 0, err
    assert out.startswith("Force periodic successful\nEvaluation ID: ")

    code, out, err = _cli(dev_agent, "job", "status", "yearly")
    assert code == 0, err
    assert re.search(r"Periodic\s+= true", out)
    launch = re.search(r"Next Periodic Launch = (\d{4})-01-01T00:00:00Z \((\S+) from now\)", out)
    assert launch is not None, out
    assert int(launch.group(1)) == next_year
    assert "Children Job Summary\nPending  Running  Dead" in out
    assert re.search(
        rf"Previously Launched Jobs\nID\s+Status\n{re.escape(child['ID'])}\s+dead", out
    )

    code, _, err = _cli(dev_agent, "job", "periodic", "force", "no-such")
    assert code == 1 and 'No periodic job(s) with prefix or ID "no-such" found' in err
    plain = _periodic("not-periodic", "@daily", count=0)
    del plain["Job"]["Periodic"]
    registered.append("not-periodic")
    api.put("/v1/jobs", json=plain)
    resp = api.put("/v1/job/not-periodic/periodic/force")
    assert resp.status_code == 400 and resp.text == "can't force launch non-periodic job"


def test_prohibit_overlap_skips_launches_while_a_child_runs(
    api: httpx.Client, registered: list[str]
) -> None:
    registered.append("slow")
    # every second, each run takes 3: launches in between are skipped
    api.put("/v1/jobs", json=_periodic("slow", "* * * * * * *", "sleep 3", overlap=True))
    kids = wait_for(lambda: len(_children(api, "slow")) >= 2 and _children(api, "slow"), 30)
    first, second = kids[0]["ID"], kids[1]["ID"]
    (alloc,) = api.get(f"/v1/job/{first}/allocations").json()
    assert alloc["ClientStatus"] == "complete", alloc
    finished = from_rfc3339(alloc["TaskStates"]["t"]["FinishedAt"])
    assert finished is not None
    # the next launch came only once the first child had finished (the
    # launches of the seconds in between were skipped)
    assert _launch_time(second) >= int(finished.timestamp())
    assert _launch_time(second) - _launch_time(first) >= 3
    summary = api.get("/v1/job/slow/summary").json()["Children"]
    assert summary["Running"] + summary["Pending"] <= 1


# -- failover ------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, procs: list[AgentProcess]) -> list[AgentProcess]:
    return start_servers(tmp_path, 3, started=procs)


def test_leader_failover_neither_relaunches_nor_skips(cluster: list[AgentProcess]) -> None:
    leader = leader_of(cluster)
    assert leader is not None
    # count 0: each child's one evaluation completes without a client
    body = _periodic("beat", "*/2 * * * * * *", count=0)
    with httpx.Client(base_url=leader.address, timeout=15) as api:
        assert api.put("/v1/jobs", json=body).status_code == 200
        wait_for(lambda: _children(api, "beat"), timeout=15, what="a first launch")
    leader.kill()
    survivor = next(s for s in cluster if s is not leader)
    with httpx.Client(base_url=survivor.address, timeout=15) as api:
        killed_at = max(_launch_time(k["ID"]) for k in _children(api, "beat"))
        new_leader = wait_for(
            lambda: (lead := leader_of([s for s in cluster if s is not leader])) and lead,
            timeout=20,
            what="a new leader",
        )
        assert new_leader is not leader

        def launched_after_failover() -> list[dict[str, Any]] | None:
            kids = _children(api, "beat")
            late = [k for k in kids if _launch_time(k["ID"]) >= killed_at + 4]
            return kids if len(late) >= 2 else None

        kids = wait_for(launched_after_failover, timeout=30, what="launches by the new leader")
        times = [_launch_time(k["ID"]) for k in kids]
        # one child per scheduled time, with no scheduled time missing
        assert times == list(range(times[0], times[-1] + 1, 2)), times
        for k in kids:
            evals = api.get(f"/v1/job/{k['ID']}/evaluations").json()
            assert len(evals) == 1, (k["ID"], evals)  # launched exactly once
        api.delete("/v1/job/beat")


def test_example_periodic_job(api: httpx.Client, registered: list[str]) -> None:
    from controlplane import jobspec
    from controlplane.structs import to_builtins

    path = Path(__file__).resolve().parents[2] / "examples" / "periodic.nomad"
    job = jobspec.parse_job(path.read_text(), str(path))
    registered.append(job.id)
    assert api.put("/v1/jobs", json={"Job": to_builtins(job)}).status_code == 200
    assert api.put(f"/v1/job/{job.id}/periodic/force").status_code == 200
    (child,) = _children(api, job.id)

    def logged() -> str:
        allocs = api.get(f"/v1/job/{child['ID']}/allocations").json()
        if not allocs:
            return ""
        return api.get(
            f"/v1/client/fs/logs/{allocs[0]['ID']}",
            params={"task": "report", "type": "stdout", "plain": "true"},
        ).text

    out = wait_for(logged, what="the report task's output")
    assert out.startswith(f"report {child['ID']} at ")
