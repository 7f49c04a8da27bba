"""Event stream, node eligibility / drain, alloc stop and client restart
against a real in-process dev agent (one server + one client node)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.agent.agent import Agent
from controlplane.api import events as events_api
from tests.agents import in_process_agent
from tests.job_support import allocations, hcl_job, running_allocs
from tests.waiting import wait_for


def _job_body(job_id: str, script: str = "echo started; exec sleep 600") -> dict[str, Any]:
    return hcl_job(job_id, script, cpu=50, memory=32)


def _node_id(api: httpx.Client) -> str:
    nodes = api.get("/v1/nodes").json()
    assert len(nodes) == 1
    node_id: str = nodes[0]["ID"]
    return node_id


def _node(api: httpx.Client) -> dict[str, Any]:
    node: dict[str, Any] = api.get(f"/v1/node/{_node_id(api)}").json()
    return node


class _Stream:
    """Reads /v1/event/stream lines in a thread; None marks the end of the stream."""

    def __init__(self, base_url: str, params: list[tuple[str, str]]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.status = 0
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=None))
        self._params = params
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._client.stream("GET", "/v1/event/stream", params=self._params) as resp:
                self.status = resp.status_code
                for line in resp.iter_lines():
                    self.lines.put(line)
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self.lines.put(None)

    def next_line(self, timeout: float = 20.0) -> str | None:
        return self.lines.get(timeout=timeout)

    def messages_until(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Event messages (heartbeats dropped) until `done(messages)` holds."""
        got: list[dict[str, Any]] = []

        def step() -> bool:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                return False
            assert line is not None, f"stream ended early after {got!r}"
            assert line, "the stream never sends blank lines"
            msg = json.loads(line)
            if msg:
                got.append(msg)
            return done(got)

        wait_for(step, timeout=timeout, what="event stream messages")
        return got

    def ended(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def stream(dev_agent: Agent) -> Iterator[Callable[..., _Stream]]:
    opened: list[_Stream] = []

    def open_stream(*params: tuple[str, str]) -> _Stream:
        s = _Stream(f"http://{dev_agent.config.http_addr}", list(params))
        opened.append(s)
        return s

    yield open_stream
    for s in opened:
        s.close()


def _events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for msg in messages for e in msg["Events"]]


def _purge(api: httpx.Client, job_id: str) -> None:
    api.delete(f"/v1/job/{job_id}", params={"purge": "true"})


# -- event stream -------------------------------------------------------------


def test_stream_sends_job_eval_and_alloc_events(
    api: httpx.Client, stream: Callable[..., _Stream]
) -> None:
    job_id = "ev-job"
    s = stream(
        ("topic", f"Job:{job_id}"),
        ("topic", f"Evaluation:{job_id}"),
        ("topic", "Allocation:" + job_id),
    )
    assert s.next_line() == "{}", "an empty object first, at once"
    assert s.status == 200
    try:
        reg = api.put("/v1/jobs", json=_job_body(job_id)).json()

        def alloc_running(msgs: list[dict[str, Any]]) -> bool:
            return any(
                e["Topic"] == "Allocation"
                and e["Payload"]["Allocation"]["ClientStatus"] == "running"
                for e in _events(msgs)
            )

        messages = s.messages_until(alloc_running)
    finally:
        _purge(api, job_id)

    indexes = [m["Index"] for m in messages]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    for msg in messages:
        assert all(e["Index"] == msg["Index"] for e in msg["Events"])
    events = _events(messages)
    assert {e["Topic"] for e in events} == {"Job", "Evaluation", "Allocation"}, "topic filter"

    (job_ev,) = [e for e in events if e["Topic"] == "Job"]
    assert (job_ev["Type"], job_ev["Key"], job_ev["Namespace"]) == (
        "JobRegistered",
        job_id,
        "default",
    )
    assert job_ev["Index"] == reg["Index"] and job_ev["Payload"]["Job"]["ID"] == job_id

    reg_eval = [e for e in events if e["Topic"] == "Evaluation" and e["Key"] == reg["EvalID"]]
    assert reg_eval and reg_eval[0]["FilterKeys"][0] == job_id
    assert reg_eval[-1]["Payload"]["Evaluation"]["TriggeredBy"] == "job-register"

    alloc_evs = [e for e in events if e["Topic"] == "Allocation"]
    alloc = api.get(f"/v1/allocation/{alloc_evs[-1]['Key']}").json()
    assert alloc["JobID"] == job_id
    for ev in alloc_evs:
        assert ev["FilterKeys"] == [job_id, alloc["DeploymentID"]]
        assert ev["Payload"]["Allocation"]["ID"] == ev["Key"]
        assert ev["Payload"]["Allocation"]["Job"] is None, "the embedded job is stripped"
    assert {e["Type"] for e in alloc_evs} <= {"PlanResult", "AllocationUpdated"}


def test_stream_resumes_from_index(api: httpx.Client, stream: Callable[..., _Stream]) -> None:
    job_id = "ev-resume"
    reg = api.put("/v1/jobs", json=_job_body(job_id)).json()
    try:
        again = stream(("index", str(reg["Index"])), ("topic", f"Job:{job_id}"))
        first = again.messages_until(lambda msgs: len(msgs) >= 1)[0]
        assert first["Index"] == reg["Index"], "resuming at an index includes it"
        assert first["Events"][0]["Type"] == "JobRegistered"

        later = stream(("index", str(reg["Index"] + 1)), ("topic", f"Job:{job_id}"))
        assert later.next_line() == "{}"
        stop = api.delete(f"/v1/job/{job_id}").json()
        msg = later.messages_until(lambda msgs: len(msgs) >= 1)[0]
        assert msg["Index"] == stop["Index"], "nothing older than the requested index"
        assert msg["Events"][0]["Type"] == "JobDeregistered"

        # an index older than anything buffered starts at the oldest batch
        oldest = stream(("index", "1"), ("topic", "Node"))
        node_msg = oldest.messages_until(lambda msgs: len(msgs) >= 1)[0]
        assert node_msg["Events"][0]["Type"] == "NodeRegistration"
    finally:
        _purge(api, job_id)


def test_stream_heartbeats(stream: Callable[..., _Stream], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT_S", 0.2)
    s = stream(("topic", "Job:no-such-job"))
    assert [s.next_line(), s.next_line(), s.next_line()] == ["{}", "{}", "{}"]


def test_stream_rejects_bad_topic_and_index(api: httpx.Client) -> None:
    resp = api.get("/v1/event/stream", params={"topic": "Job:a:b"})
    assert resp.status_code == 400
    assert "Invalid key value pair for topic: Job:a:b" in resp.text
    assert api.get("/v1/event/stream", params={"index": "x"}).status_code == 400


def test_stream_ends_on_agent_shutdown(tmp_path: Path) -> None:
    with in_process_agent(data_dir=str(tmp_path), node_name="n2") as agent:
        s = _Stream(f"http://{agent.config.http_addr}", [])
        assert s.next_line() == "{}"
    assert s.ended(10), "the stream closes when the agent shuts down"
    s.close()


# -- node eligibility and drain ---------------------------------------------------


def test_eligibility_toggle_controls_placement(api: httpx.Client) -> None:
    node_id = _node_id(api)
    job_id = "elig-job"
    try:
        resp = api.put(f"/v1/node/{node_id}/eligibility", json={"Eligibility": "ineligible"})
        assert resp.status_code == 200, resp.text
        out = resp.json()
        assert out["NodeModifyIndex"] == out["Index"] == int(resp.headers["X-Nomad-Index"])
        node = _node(api)
        assert node["SchedulingEligibility"] == "ineligible"
        assert node["Events"][-1]["Message"] == "Node marked as ineligible for scheduling"

        reg = api.put("/v1/jobs", json=_job_body(job_id)).json()
        ev = wait_for(
            lambda: (
                (e := api.get(f"/v1/evaluation/{reg['EvalID']}").json())["Status"] == "complete"
                and e
            ),
            what="the registration eval to finish",
        )
        assert ev["BlockedEval"], "nothing fits: the work waits in a blocked eval"
        assert allocations(api, job_id) == []

        resp = api.post(f"/v1/node/{node_id}/eligibility", json={"Eligibility": "eligible"})
        assert resp.status_code == 200, resp.text
        wait_for(lambda: running_allocs(api, job_id), what="the job placed once eligible")
    finally:
        api.put(f"/v1/node/{node_id}/eligibility", json={"Eligibility": "eligible"})
        _purge(api, job_id)


def test_eligibility_rejects_bad_values(api: httpx.Client) -> None:
    node_id = _node_id(api)
    resp = api.put(f"/v1/node/{node_id}/eligibility", json={"Eligibility": "maybe"})
    assert resp.status_code == 400
    assert resp.text == 'invalid scheduling eligibility "maybe"'
    resp = api.put("/v1/node/no-such-node/eligibility", json={"Eligibility": "eligible"})
    assert resp.status_code == 404


def test_drain_completes_on_a_single_node_and_mark_eligible_restores(
    api: httpx.Client,
) -> None:
    node_id = _node_id(api)
    job_id = "drain-job"
    assert api.put(f"/v1/node/{node_id}/drain", params={"enable": "true"}).status_code == 400
    try:
        api.put("/v1/jobs", json=_job_body(job_id))
        (before,) = wait_for(lambda: running_allocs(api, job_id), what="the job running")

        spec = {"DrainSpec": {"Deadline": 2_000_000_000, "IgnoreSystemJobs": False}}
        resp = api.put(f"/v1/node/{node_id}/drain", json=spec)
        assert resp.status_code == 200, resp.text
        out = resp.json()
        assert set(out) == {"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}

        node = _node(api)  # well inside the 2 s deadline
        assert node["Drain"] is True and node["SchedulingEligibility"] == "ineligible"
        strategy = node["DrainStrategy"]
        assert strategy["Deadline"] == 2_000_000_000 and strategy["ForceDeadline"]
        assert node["LastDrain"]["Status"] == "draining"

        # no other node to move to: the deadline ends the drain
        node = wait_for(
            lambda: (n := _node(api))["Drain"] is False and n, what="the drain to complete"
        )
        assert node["DrainStrategy"] is None
        assert node["SchedulingEligibility"] == "ineligible"
        assert node["LastDrain"]["Status"] == "complete"
        messages = [e["Message"] for e in node["Events"]]
        assert "Node drain strategy set" in messages
        assert messages[-1] == "Node drain complete"

        allocs = allocations(api, job_id)
        assert [a["ID"] for a in allocs] == [before["ID"]], "nothing was placed elsewhere"
        assert allocs[0]["DesiredTransition"]["Migrate"] is True
        drain_evals = [
            e
            for e in api.get("/v1/evaluations").json()
            if e["JobID"] == job_id and e["TriggeredBy"] == "node-drain"
        ]
        assert drain_evals and drain_evals[0]["NodeID"] == node_id

        resp = api.put(f"/v1/node/{node_id}/drain", json={"DrainSpec": None, "MarkEligible": True})
        assert resp.status_code == 200, resp.text
        assert _node(api)["SchedulingEligibility"] == "eligible"
    finally:
        api.put(f"/v1/node/{node_id}/drain", json={"DrainSpec": None, "MarkEligible": True})
        _purge(api, job_id)


# -- allocation actions --------------------------------------------------------------


def test_alloc_stop_replaces_the_alloc(api: httpx.Client) -> None:
    job_id = "stop-job"
    try:
        api.put("/v1/jobs", json=_job_body(job_id))
        (old,) = wait_for(lambda: running_allocs(api, job_id), what="the job running")
        resp = api.post(f"/v1/allocation/{old['ID']}/stop")
        assert resp.status_code == 200, resp.text
        out = resp.json()
        assert out["Index"] == int(resp.headers["X-Nomad-Index"])
        ev = api.get(f"/v1/evaluation/{out['EvalID']}").json()
        assert ev["TriggeredBy"] == "alloc-stop" and ev["JobID"] == job_id

        new = wait_for(
            lambda: [a for a in running_allocs(api, job_id) if a["ID"] != old["ID"]],
            what="a replacement alloc running",
        )[0]
        full = api.get(f"/v1/allocation/{new['ID']}").json()
        assert full["PreviousAllocation"] == old["ID"]
        stopped = api.get(f"/v1/allocation/{old['ID']}").json()
        assert stopped["DesiredStatus"] == "stop"
        assert stopped["DesiredDescription"] == "alloc is being migrated"
        assert api.put("/v1/allocation/no-such-alloc/stop").status_code == 404
    finally:
        _purge(api, job_id)


def _task_state(api: httpx.Client, alloc_id: str) -> dict[str, Any]:
    state: dict[str, Any] = api.get(f"/v1/allocation/{alloc_id}").json()["TaskStates"]["t"]
    return state


def test_client_restart_runs_the_task_again(api: httpx.Client) -> None:
    job_id = "restart-job"
    try:
        api.put("/v1/jobs", json=_job_body(job_id))
        (alloc,) = wait_for(lambda: running_allocs(api, job_id), what="the job running")
        alloc_id = alloc["ID"]
        base = f"/v1/client/allocation/{alloc_id}"

        both = api.put(f"{base}/restart", json={"TaskName": "t", "AllTasks": True})
        assert both.status_code == 400
        assert api.put(f"{base}/restart", json={"TaskName": "nope"}).status_code == 404
        assert api.put("/v1/client/allocation/nope/restart", json={}).status_code == 404

        resp = api.put(f"{base}/restart", json={"TaskName": "t"})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {}

        def restarted() -> dict[str, Any] | None:
            st = _task_state(api, alloc_id)
            types = [e["Type"] for e in st["Events"]]
            if "Restart Signaled" not in types:
                return None
            after = types[types.index("Restart Signaled") :]
            return st if "Started" in after and st["State"] == "running" else None

        state = wait_for(restarted, what="the task started again")
        assert state["Restarts"] == 1 and state["Failed"] is False
        signaled = next(e for e in state["Events"] if e["Type"] == "Restart Signaled")
        assert signaled["RestartReason"] == "User requested task to restart"
        assert running_allocs(api, job_id)[0]["ID"] == alloc_id, "restarted in place"

        def stdout() -> str:
            resp = api.get(
                f"/v1/client/fs/logs/{alloc_id}",
                params={"task": "t", "type": "stdout", "plain": "true"},
            )
            return resp.text

        wait_for(lambda: stdout().count("started") == 2, what="the command run twice")
    finally:
        _purge(api, job_id)


def test_client_signal_unknown_alloc(api: httpx.Client) -> None:
    resp = api.put("/v1/client/allocation/nope/signal", json={"Signal": "SIGHUP"})
    assert resp.status_code == 404


def test_client_signal_reaches_the_task(api: httpx.Client) -> None:
    job_id = "signal-job"
    script = "trap 'echo got-hup' HUP; echo started; while :; do sleep 0.1; done"
    try:
        api.put("/v1/jobs", json=_job_body(job_id, script))
        (alloc,) = wait_for(lambda: running_allocs(api, job_id), what="the job running")
        alloc_id = alloc["ID"]

        def stdout() -> str:
            return api.get(
                f"/v1/client/fs/logs/{alloc_id}",
                params={"task": "t", "type": "stdout", "plain": "true"},
            ).text

        wait_for(lambda: "started" in stdout(), what="the trap installed")
        resp = api.put(
            f"/v1/client/allocation/{alloc_id}/signal", json={"Signal": "SIGHUP", "Task": "t"}
        )
        assert resp.status_code == 200, resp.text
        wait_for(lambda: "got-hup" in stdout(), what="the task to handle SIGHUP")
        # the event reaches the server with the client's next (batched) update
        wait_for(
            lambda: "Signaling" in [e["Type"] for e in _task_state(api, alloc_id)["Events"]],
            what="the Signaling task event",
        )
        assert _task_state(api, alloc_id)["State"] == "running"
    finally:
        _purge(api, job_id)
