"""`job run | stop | init | validate | inspect`: register bodies, the
evaluation monitor's output and exit codes, and error lines."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import nt_data as d
import pytest
from nt_fake import FakeNomad, Reply, Seq, run_cli

T = "2020-06-21T18:40:00Z"

JOB_HCL = """
job "example" {
  datacenters = ["dc1"]

  group "cache" {
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"""


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "example.nomad"
    path.write_text(JOB_HCL)
    return path


def _eval(status: str, **over: object) -> dict[str, object]:
    ev: dict[str, object] = {
        "ID": d.EVAL_ID,
        "JobID": "example",
        "Status": status,
        "Type": "service",
        "TriggeredBy": "job-register",
        "CreateIndex": 20,
        "ModifyIndex": 20,
    }
    ev.update(over)
    return ev


def _register(fake: FakeNomad) -> None:
    fake.route(
        "PUT",
        "/v1/jobs",
        Reply(
            body={"EvalID": d.EVAL_ID, "EvalCreateIndex": 20, "JobModifyIndex": 19, "Warnings": ""},
            index=20,
        ),
    )


def test_job_run_registers_the_parsed_job_and_monitors_to_completion(job_file: Path) -> None:
    fake = FakeNomad()
    _register(fake)
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}",
        Seq(
            Reply(body=_eval("pending"), index=20),
            Reply(body=_eval("complete", ModifyIndex=22), index=22),
        ),
    )
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}/allocations",
        Seq(
            [],
            [d.alloc_stub(CreateIndex=21, ClientStatus="pending")],
        ),
    )
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.err == ""
    assert res.code == 0
    assert res.out == (
        f'==> {T}: Monitoring evaluation "5744eb15"\n'
        f'    {T}: Evaluation triggered by job "example"\n'
        f'    {T}: Allocation "0f09c03d" created: node "06484218", group "cache"\n'
        f'    {T}: Evaluation status changed: "pending" -> "complete"\n'
        f'==> {T}: Evaluation "5744eb15" finished with status "complete"\n'
    )
    body = json.loads(fake.requests_to("PUT", "/v1/jobs")[0].content)
    assert body["Job"]["ID"] == "example"
    assert [tg["Name"] for tg in body["Job"]["TaskGroups"]] == ["cache"]
    assert body["Job"]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] == 256
    assert body["Submission"] == {"Source": JOB_HCL, "Format": "hcl2"}
    assert "EnforceIndex" not in body
    # The second read blocks on the first one's index instead of polling.
    second = fake.requests_to("GET", f"/v1/evaluation/{d.EVAL_ID}")[1]
    assert second.url.params["index"] == "20"
    assert "wait" in second.url.params
    assert fake.sleeps == []


def test_monitor_reports_alloc_status_changes_and_polls_without_index(job_file: Path) -> None:
    fake = FakeNomad()
    _register(fake)
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}",
        Seq(
            _eval("pending"),
            _eval("pending"),
            _eval("complete"),
        ),
    )
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}/allocations",
        Seq(
            [d.alloc_stub(CreateIndex=21, ClientStatus="pending", ClientDescription="")],
            [d.alloc_stub(CreateIndex=21)],
        ),
    )
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 0
    assert res.out.splitlines()[3] == (
        f'    {T}: Allocation "0f09c03d" status changed: "pending" -> "running" (Tasks are running)'
    )
    assert fake.sleeps == [1.0, 1.0]  # no X-Nomad-Index: fall back to 1 s polling


def test_job_run_placement_failure_exits_2(job_file: Path) -> None:
    fake = FakeNomad()
    _register(fake)
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}",
        Reply(
            body=_eval(
                "complete",
                FailedTGAllocs={"cache": d.failed_metric()},
                BlockedEval="b1b2b3b4-0000-0000-0000-000000000000",
            ),
            index=22,
        ),
    )
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 2
    assert res.out == (
        f'==> {T}: Monitoring evaluation "5744eb15"\n'
        f'    {T}: Evaluation triggered by job "example"\n'
        f'==> {T}: Evaluation "5744eb15" finished with status "complete" but failed to '
        "place all allocations:\n"
        f'    {T}: Task Group "cache" (failed to place 3 allocations):\n'
        "      * Resources exhausted on 1 nodes\n"
        '      * Dimension "memory" exhausted on 1 nodes\n'
        f'    {T}: Evaluation "b1b2b3b4" waiting for additional capacity to place remainder\n'
    )


def test_job_run_follows_next_eval(job_file: Path) -> None:
    fake = FakeNomad()
    _register(fake)
    next_id = "99990000-0000-0000-0000-000000000000"
    fake.route(
        "GET", f"/v1/evaluation/{d.EVAL_ID}", _eval("complete", NextEval=next_id, Wait=10 * 10**9)
    )
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])
    fake.route("GET", f"/v1/evaluation/{next_id}", _eval("complete", ID=next_id))
    fake.route("GET", f"/v1/evaluation/{next_id}/allocations", [])
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 0
    assert f'==> {T}: Monitoring next evaluation "99990000" in 10s' in res.out.splitlines()
    assert (
        res.out.splitlines()[-1] == f'==> {T}: Evaluation "99990000" finished with status '
        '"complete"'
    )
    assert fake.sleeps == [10.0]


def test_job_run_detach_and_check_index(job_file: Path) -> None:
    fake = FakeNomad()
    _register(fake)
    res = run_cli(["job", "run", "-detach", "-check-index", "19", str(job_file)], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == f"Job registration successful\nEvaluation ID: {d.EVAL_ID}\n"
    body = json.loads(fake.requests_to("PUT", "/v1/jobs")[0].content)
    assert (body["EnforceIndex"], body["JobModifyIndex"]) == (True, 19)
    assert not fake.requests_to("GET", f"/v1/evaluation/{d.EVAL_ID}")


def test_job_run_double_dash_flags_work_too(job_file: Path) -> None:
    fake = FakeNomad()
    _register(fake)
    res = run_cli(["job", "run", "--detach", "--check-index=0", str(job_file)], fake)
    assert res.code == 0
    assert json.loads(fake.requests_to("PUT", "/v1/jobs")[0].content)["JobModifyIndex"] == 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # Ours: a typed 409 with the bare sentence.
        (409, "Enforcing job modify index 10: job exists with conflicting job modify index: 11"),
        # Nomad: a 500, sometimes wrapped as a multierror.
        (
            500,
            "1 error occurred:\n\t* Enforcing job modify index 10: job exists with conflicting "
            "job modify index: 11\n\n",
        ),
    ],
)
def test_job_run_check_index_conflict_prints_nomads_two_lines(
    job_file: Path, status: int, body: str
) -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/jobs", Reply(status=status, text=body))
    res = run_cli(["job", "run", "-check-index", "10", str(job_file)], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == (
        "Enforcing job modify index 10: job exists with conflicting job modify index: 11\n"
        "Job not updated\n"
    )


def test_job_run_other_register_errors_keep_their_prefix(job_file: Path) -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/jobs", Reply(status=500, text="raft apply failed"))
    res = run_cli(["job", "run", str(job_file)], fake)
    assert (res.code, res.err) == (1, "Error submitting job: raft apply failed\n")


def test_job_run_parse_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nomad"
    bad.write_text('job "x" {\n  group "g" {\n    count = \n  }\n}\n')
    res = run_cli(["job", "run", str(bad)], FakeNomad())
    assert res.code == 1
    assert res.err.startswith(f"Error parsing job file {bad}:3")
    assert res.err.count("\n") == 1


def test_job_run_missing_file() -> None:
    res = run_cli(["job", "run", "/nonexistent/x.nomad"], FakeNomad())
    assert (res.code, res.err) == (
        1,
        'Error reading job file "/nonexistent/x.nomad": No such file or directory\n',
    )


def test_job_validate(job_file: Path) -> None:
    res = run_cli(["job", "validate", str(job_file)], FakeNomad())
    assert (res.code, res.out) == (0, "Job validation successful\n")


def _stop_routes(fake: FakeNomad) -> None:
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route("DELETE", "/v1/job/example", {"EvalID": d.EVAL_ID, "EvalCreateIndex": 30})
    fake.route(
        "GET", f"/v1/evaluation/{d.EVAL_ID}", _eval("complete", TriggeredBy="job-deregister")
    )
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])


def test_job_stop_monitors_the_deregister_eval() -> None:
    fake = FakeNomad()
    _stop_routes(fake)
    res = run_cli(["job", "stop", "example"], fake)
    assert res.code == 0
    assert res.out == (
        f'==> {T}: Monitoring evaluation "5744eb15"\n'
        f'    {T}: Evaluation triggered by job "example"\n'
        f'==> {T}: Evaluation "5744eb15" finished with status "complete"\n'
    )
    assert fake.requests_to("DELETE", "/v1/job/example")[0].url.params["purge"] == "false"


def test_job_stop_purge_detach_prints_the_eval_id() -> None:
    fake = FakeNomad()
    _stop_routes(fake)
    res = run_cli(["job", "stop", "-purge", "-detach", "example"], fake)
    assert (res.code, res.out) == (0, f"{d.EVAL_ID}\n")
    assert fake.requests_to("DELETE", "/v1/job/example")[0].url.params["purge"] == "true"


def test_job_stop_by_prefix_asks_first() -> None:
    fake = FakeNomad()
    _stop_routes(fake)
    res = run_cli(["job", "stop", "exa"], fake, stdin="n\n")
    assert res.out == 'Are you sure you want to stop job "example"? [y/N]: Cancelling job stop\n'
    assert not fake.requests_to("DELETE", "/v1/job/example")
    res = run_cli(["job", "stop", "-yes", "-detach", "exa"], fake)
    assert res.out == f"{d.EVAL_ID}\n"


def test_job_inspect_prints_the_job_wrapped() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route("GET", "/v1/job/example", d.job())
    res = run_cli(["job", "inspect", "example"], fake)
    assert json.loads(res.out) == {"Job": d.job()}


def test_job_init_writes_example_nomad_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = run_cli(["job", "init"], None)
    assert (res.code, res.out) == (0, "Example job file written to example.nomad\n")
    assert 'job "example"' in (tmp_path / "example.nomad").read_text()
    again = run_cli(["job", "init"], None)
    assert (again.code, again.err) == (1, "Job 'example.nomad' already exists\n")
    short = run_cli(["job", "init", "-short", "small.nomad"], None)
    assert short.code == 0
    assert len((tmp_path / "small.nomad").read_text()) < len(
        (tmp_path / "example.nomad").read_text()
    )


def test_connection_refused_is_one_line_exit_1() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"http://127.0.0.1:{port}"
    res = run_cli(["status", "-address", address], None)
    assert (res.code, res.out) == (1, "")
    assert res.err == f"Error: no nomadtui agent at {address} (connection refused)\n"
    via_env = run_cli(["node", "status"], None, env={"NOMAD_ADDR": address})
    assert via_env.err == res.err


def test_usage_errors_exit_1_with_one_line() -> None:
    res = run_cli(["job", "run"], FakeNomad())
    assert res.code == 1
    assert res.err.startswith("Error: the following arguments are required: file")
    assert res.err.count("\n") == 1


def test_serve_hands_its_arguments_to_the_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    import controlplane.agent.cli as agent_cli

    seen: list[list[str]] = []
    monkeypatch.setattr(agent_cli, "serve_main", lambda argv: seen.append(argv) or 7)
    assert run_cli(["serve", "-dev", "-http-port", "1"], None).code == 7
    assert run_cli(["agent", "-dev"], None).code == 7
    assert seen == [["-dev", "-http-port", "1"], ["-dev"]]


def test_bare_command_opens_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    from nomadtui.tui import app as tui_app

    opened: list[str] = []
    monkeypatch.setattr(tui_app.ConsoleApp, "run", lambda self: opened.append(self.client.address))
    assert run_cli(["-address", "http://10.1.2.3:4646"], None).code == 0
    assert opened == ["http://10.1.2.3:4646"]


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nomadtui", "version"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("nomadtui v")
