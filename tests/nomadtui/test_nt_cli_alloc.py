"""`alloc status`, `alloc logs` and `eval status`."""

from __future__ import annotations

import base64
import json

import httpx
import nt_data as d
import pytest
from nt_fake import FakeNomad, run_cli


def _alloc_routes(fake: FakeNomad, alloc: dict[str, object] | None = None) -> None:
    fake.route("GET", "/v1/allocations", [d.alloc_stub()])
    fake.route("GET", f"/v1/allocation/{d.ALLOC_ID}", alloc or d.full_alloc())


def test_alloc_status_layout() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    res = run_cli(["alloc", "status", "0f09c"], fake)
    assert res.code == 0, res.err
    assert fake.requests_to("GET", "/v1/allocations")[0].url.params["prefix"] == "0f09"
    assert res.out == (
        "ID                  = 0f09c03d\n"
        "Eval ID             = 5744eb15\n"
        "Name                = example.cache[0]\n"
        "Node ID             = 06484218\n"
        "Node Name           = chuso-TM1703\n"
        "Job ID              = example\n"
        "Job Version         = 0\n"
        "Client Status       = running\n"
        "Client Description  = Tasks are running\n"
        "Desired Status      = run\n"
        "Desired Description = <none>\n"
        "Created             = 3m28s ago\n"
        "Modified            = 3m10s ago\n"
        "Deployment ID       = 3a364864\n"
        "Deployment Health   = healthy\n"
        "\n"
        'Task "redis" is "running"\n'
        "Task Resources:\n"
        "CPU      Memory   Disk     Addresses\n"
        "500 MHz  256 MiB  300 MiB  db: 127.0.0.1:27908\n"
        "\n"
        "Task Events:\n"
        "Started At     = 2020-06-21T18:36:45Z\n"
        "Finished At    = N/A\n"
        "Total Restarts = 0\n"
        "Last Restart   = N/A\n"
        "\n"
        "Recent Events:\n"
        "Time                  Type      Description\n"
        "2020-06-21T18:36:45Z  Started   Task started by client\n"
        "2020-06-21T18:36:26Z  Driver    Downloading image\n"
        "2020-06-21T18:36:25Z  Received  Task received by client\n"
    )


def _frames(*chunks: bytes | None) -> bytes:
    """A leading heartbeat, then data frames; `None` stands for an idle heartbeat."""
    out = b"{}"
    offset = 0
    for chunk in chunks:
        if chunk is None:
            out += b"{}"
            continue
        offset += len(chunk)
        frame = {
            "Offset": offset,
            "Data": base64.b64encode(chunk).decode(),
            "File": "alloc/logs/redis.stdout.0",
        }
        out += json.dumps(frame).encode()
    return out


def test_alloc_logs_writes_raw_bytes_and_infers_the_only_task() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route(
        "GET",
        f"/v1/client/fs/logs/{d.ALLOC_ID}",
        lambda req: httpx.Response(200, content=_frames(b"one\n", b"two\n")),
    )
    res = run_cli(["alloc", "logs", "0f09c03d"], fake)
    assert (res.code, res.out, res.err) == (0, "one\ntwo\n", "")
    params = fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}")[0].url.params
    assert (params["task"], params["type"], params["origin"]) == ("redis", "stdout", "start")


def test_alloc_logs_tail_n_asks_from_the_end_and_keeps_n_lines() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route(
        "GET",
        f"/v1/client/fs/logs/{d.ALLOC_ID}",
        lambda req: httpx.Response(200, content=_frames(b"a\nb\n", b"c\nd\n")),
    )
    res = run_cli(["alloc", "logs", "-stderr", "-tail", "-n", "3", "0f09c03d", "redis"], fake)
    assert res.out == "b\nc\nd\n"
    params = fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}")[0].url.params
    assert (params["type"], params["origin"], params["offset"]) == ("stderr", "end", "360")


def test_alloc_logs_follow_tail_trims_only_the_backlog() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    body = _frames(b"a\nb\n", b"c\n", None, b"new1\nnew2\n", None)
    fake.route(
        "GET", f"/v1/client/fs/logs/{d.ALLOC_ID}", lambda req: httpx.Response(200, content=body)
    )
    res = run_cli(["alloc", "logs", "-f", "-tail", "-n", "1", "0f09c03d"], fake)
    assert res.out == "c\nnew1\nnew2\n"
    params = fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}")[0].url.params
    assert (params["follow"], params["origin"], params["offset"]) == ("true", "end", "120")


def test_alloc_logs_n_without_tail_reads_from_the_start_as_nomad() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route(
        "GET",
        f"/v1/client/fs/logs/{d.ALLOC_ID}",
        lambda req: httpx.Response(200, content=_frames(b"a\nb\n")),
    )
    res = run_cli(["alloc", "logs", "-n", "1", "0f09c03d"], fake)
    assert res.out == "a\nb\n"
    params = fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}")[0].url.params
    assert (params["origin"], params["offset"]) == ("start", "0")


def test_alloc_logs_tail_c_asks_for_bytes_and_keeps_them_all() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route(
        "GET",
        f"/v1/client/fs/logs/{d.ALLOC_ID}",
        lambda req: httpx.Response(200, content=_frames(b"partial line\n", b"x\n")),
    )
    res = run_cli(["alloc", "logs", "-tail", "-c", "15", "0f09c03d"], fake)
    assert res.out == "partial line\nx\n"
    params = fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}")[0].url.params
    assert (params["type"], params["origin"], params["offset"]) == ("stdout", "end", "15")


def test_alloc_logs_flag_conflicts_are_one_error_line() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    both = run_cli(["alloc", "logs", "-tail", "-n", "2", "-c", "9", "0f09c03d"], fake)
    assert (both.code, both.err) == (1, "Failed to read stdout file: both -n and -c set\n")
    streams = run_cli(["alloc", "logs", "-stdout", "-stderr", "0f09c03d"], fake)
    assert (streams.code, streams.err) == (1, "Error: Unable to support both stdout and stderr\n")
    assert fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}") == []


def test_alloc_logs_task_flag_wins_and_is_validated() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    res = run_cli(["alloc", "logs", "-task", "nope", "0f09c03d", "redis"], fake)
    assert res.code == 1
    assert res.err == 'Failed to validate task: Could not find task named: "nope"\n'


def test_alloc_logs_job_picks_a_running_allocation() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route("GET", "/v1/jobs", [{"ID": "example", "Namespace": "default"}])
    dead = d.alloc_stub(ID="dead0000-0000-0000-0000-000000000000", ClientStatus="complete")
    fake.route("GET", "/v1/job/example/allocations", [dead, d.alloc_stub()])
    fake.route(
        "GET",
        f"/v1/client/fs/logs/{d.ALLOC_ID}",
        lambda req: httpx.Response(200, content=_frames(b"hi\n")),
    )
    res = run_cli(["alloc", "logs", "-job", "example"], fake)
    assert (res.code, res.out) == (0, "hi\n"), res.err
    assert fake.requests_to("GET", "/v1/allocations")[0].url.params["prefix"] == d.ALLOC_ID


def test_alloc_logs_job_with_a_task_picks_an_allocation_running_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the pick is random: take the first candidate, which without the task
    # filter is a backend allocation
    monkeypatch.setattr("nomadtui.cli.logs.random.choice", lambda xs: xs[0])
    fake = FakeNomad()
    front = d.full_alloc()
    front["TaskStates"] = {"frontend": {"State": "running"}}
    _alloc_routes(fake, front)
    fake.route("GET", "/v1/jobs", [{"ID": "example", "Namespace": "default"}])
    others = [
        d.alloc_stub(ID=f"b{i}000000-0000-0000-0000-000000000000", TaskStates={"backend": {}})
        for i in range(5)
    ]
    fake.route(
        "GET",
        "/v1/job/example/allocations",
        [*others, d.alloc_stub(TaskStates={"frontend": {"State": "running"}})],
    )
    fake.route(
        "GET",
        f"/v1/client/fs/logs/{d.ALLOC_ID}",
        lambda req: httpx.Response(200, content=_frames(b"front\n")),
    )
    res = run_cli(["alloc", "logs", "-job", "example", "frontend"], fake)
    assert (res.code, res.out) == (0, "front\n"), res.err


def test_alloc_logs_follow_alone_streams_stdout_and_stderr() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)

    def logs(req: httpx.Request) -> httpx.Response:
        kind = req.url.params["type"]
        return httpx.Response(200, content=_frames(f"{kind} line\n".encode()))

    fake.route("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}", logs)
    res = run_cli(["alloc", "logs", "-f", "0f09c03d"], fake)
    assert (res.code, res.out, res.err) == (0, "stdout line\n", "stderr line\n")
    asked = [r.url.params for r in fake.requests_to("GET", f"/v1/client/fs/logs/{d.ALLOC_ID}")]
    assert sorted(p["type"] for p in asked) == ["stderr", "stdout"]
    assert all((p["follow"], p["origin"], p["offset"]) == ("true", "end", "1") for p in asked)


def test_alloc_logs_needs_a_task_when_the_alloc_has_several() -> None:
    fake = FakeNomad()
    alloc = d.full_alloc()
    alloc["TaskStates"] = {"redis": {"State": "running"}, "sidecar": {"State": "running"}}
    _alloc_routes(fake, alloc)
    res = run_cli(["alloc", "logs", "0f09c03d"], fake)
    assert res.code == 1
    assert res.err.count("\n") == 1
    assert "redis, sidecar" in res.err and res.err.startswith("Error")


def test_alloc_not_found_is_one_error_line() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/allocations", [])
    res = run_cli(["alloc", "status", "dead"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == 'Error querying allocation: No allocation(s) with prefix or id "dead" found\n'


def test_eval_status_with_placement_failures() -> None:
    fake = FakeNomad()
    ev = {
        "ID": d.EVAL_ID,
        "Namespace": "default",
        "Priority": 50,
        "Type": "service",
        "TriggeredBy": "job-register",
        "JobID": "example",
        "Status": "complete",
        "StatusDescription": "",
        "CreateTime": d.ago_ns(60),
        "ModifyTime": d.ago_ns(59),
        "FailedTGAllocs": {"cache": d.failed_metric()},
        "BlockedEval": "b1b2b3b4-0000-0000-0000-000000000000",
    }
    fake.route("GET", "/v1/evaluations", [ev])
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}", ev)
    res = run_cli(["eval", "status", "5744eb15"], fake)
    assert res.code == 0, res.err
    assert res.out == (
        "ID                 = 5744eb15\n"
        "Create Time        = 1m ago\n"
        "Modify Time        = 59s ago\n"
        "Status             = complete\n"
        "Status Description = complete\n"
        "Type               = service\n"
        "TriggeredBy        = job-register\n"
        "Job ID             = example\n"
        "Namespace          = default\n"
        "Priority           = 50\n"
        "Placement Failures = true\n"
        "Blocked Eval       = b1b2b3b4\n"
        "\n"
        "Failed Placements\n"
        'Task Group "cache" (failed to place 3 allocations):\n'
        "  * Resources exhausted on 1 nodes\n"
        '  * Dimension "memory" exhausted on 1 nodes\n'
        "\n"
        'Evaluation "b1b2b3b4" waiting for additional capacity to place remainder\n'
    )
