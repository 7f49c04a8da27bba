"""`alloc restart`, `alloc signal` and `alloc stop` against a canned API."""

from __future__ import annotations

import json

import nt_data as d
from nt_fake import FakeNomad, Reply, run_cli

RESTART = f"/v1/client/allocation/{d.ALLOC_ID}/restart"
SIGNAL = f"/v1/client/allocation/{d.ALLOC_ID}/signal"
STOP = f"/v1/allocation/{d.ALLOC_ID}/stop"
T = "2020-06-21T18:40:00Z"


def _alloc_routes(fake: FakeNomad) -> None:
    fake.route("GET", "/v1/allocations", [d.alloc_stub()])
    fake.route("GET", f"/v1/allocation/{d.ALLOC_ID}", d.full_alloc())


def _body(fake: FakeNomad, method: str, path: str) -> object:
    (req,) = fake.requests_to(method, path)
    return json.loads(req.content)


def test_restart_one_task_silently() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route("PUT", RESTART, {})
    res = run_cli(["alloc", "restart", "0f09c03d", "redis"], fake)
    assert (res.code, res.out, res.err) == (0, "", "")
    assert _body(fake, "PUT", RESTART) == {"TaskName": "redis", "AllTasks": False}


def test_restart_all_tasks_and_its_conflict_with_a_task() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route("PUT", RESTART, {})
    assert run_cli(["alloc", "restart", "-all-tasks", "0f09c03d"], fake).code == 0
    assert _body(fake, "PUT", RESTART) == {"TaskName": "", "AllTasks": True}

    res = run_cli(["alloc", "restart", "-all-tasks", "-task", "redis", "0f09c03d"], fake)
    assert res.code == 1
    assert res.err == (
        "Error: The -all-tasks option is not allowed when restarting a specific task.\n"
    )


def test_restart_unknown_task_and_server_errors_are_one_line() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    res = run_cli(["alloc", "restart", "0f09c03d", "nope"], fake)
    assert (res.code, res.err) == (1, "Error: Could not find task named: nope, found: redis\n")
    assert fake.requests_to("PUT", RESTART) == []

    fake.route("PUT", RESTART, Reply(status=400, text="Task not running"))
    res = run_cli(["alloc", "restart", "0f09c03d"], fake)
    assert (res.code, res.err) == (1, "Failed to restart allocation: Task not running\n")


def test_signal_defaults_to_sigkill_and_takes_s_and_task() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route("PUT", SIGNAL, {})
    assert run_cli(["alloc", "signal", "0f09c03d"], fake).code == 0
    res = run_cli(["alloc", "signal", "-s", "SIGHUP", "-task", "redis", "0f09c03d"], fake)
    assert (res.code, res.out, res.err) == (0, "", "")
    bodies = [json.loads(r.content) for r in fake.requests_to("PUT", SIGNAL)]
    assert bodies == [{"Signal": "SIGKILL", "Task": ""}, {"Signal": "SIGHUP", "Task": "redis"}]


def test_stop_detach_prints_the_eval_and_passes_no_shutdown_delay() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route("PUT", STOP, {"EvalID": d.EVAL_ID, "Index": 30})
    res = run_cli(["alloc", "stop", "-detach", "-no-shutdown-delay", "0f09c03d"], fake)
    assert (res.code, res.out, res.err) == (0, d.EVAL_ID + "\n", "")
    (req,) = fake.requests_to("PUT", STOP)
    assert req.url.params["no_shutdown_delay"] == "true"


def test_stop_monitors_the_evaluation() -> None:
    fake = FakeNomad()
    _alloc_routes(fake)
    fake.route("PUT", STOP, {"EvalID": d.EVAL_ID, "Index": 30})
    ev = {"ID": d.EVAL_ID, "JobID": "example", "Status": "complete", "TriggeredBy": "alloc-stop"}
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}", Reply(body=ev, index=31))
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])
    res = run_cli(["alloc", "stop", "0f09c03d"], fake)
    assert res.code == 0, res.err
    assert res.out.startswith(f'==> {T}: Monitoring evaluation "5744eb15"\n')
    assert res.out.endswith(f'==> {T}: Evaluation "5744eb15" finished with status "complete"\n')
    assert "no_shutdown_delay" not in fake.requests_to("PUT", STOP)[0].url.params


def test_unknown_alloc_is_one_error_line() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/allocations", [])
    for cmd in ("restart", "signal", "stop"):
        res = run_cli(["alloc", cmd, "dead"], fake)
        assert (res.code, res.out) == (1, "")
        assert res.err == (
            'Error querying allocation: No allocation(s) with prefix or id "dead" found\n'
        )
