"""The deployment monitor after `job run`: the block on a non-TTY (printed when
it changes), exit codes per outcome, manual promotion, auto-revert, the TTY
redraw, and finding the deployment when the evaluation does not name it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import nt_data as d
import pytest
from nt_fake import NOW, FakeNomad, Reply, Seq, run_cli

from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main

T = "2020-06-21T18:40:00Z"
DEP = d.DEPLOY_ID
DEP_PATH = f"/v1/deployment/{DEP}"

JOB_HCL = """
job "example" {
  datacenters = ["dc1"]
  group "cache" {
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
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


def _eval(**over: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "ID": d.EVAL_ID,
        "JobID": "example",
        "Status": "complete",
        "TriggeredBy": "job-register",
        "DeploymentID": DEP,
        "CreateIndex": 20,
    }
    ev.update(over)
    return ev


def _submitted(fake: FakeNomad, **eval_over: Any) -> None:
    fake.route("PUT", "/v1/jobs", {"EvalID": d.EVAL_ID, "JobModifyIndex": 19, "Warnings": ""})
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}", Reply(body=_eval(**eval_over), index=22))
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])


def _dep(status: str, description: str, **group: Any) -> dict[str, Any]:
    return d.deployment(
        Status=status,
        StatusDescription=description,
        TaskGroups={"cache": d.deploy_group(**group)},
    )


RUNNING_0 = _dep("running", "Deployment is running", PlacedAllocs=1, HealthyAllocs=0)
SUCCESS = _dep("successful", "Deployment completed successfully")

EVAL_LINES = (
    f'==> {T}: Monitoring evaluation "5744eb15"\n'
    f'    {T}: Evaluation triggered by job "example"\n'
    f'    {T}: Evaluation within deployment: "3a364864"\n'
    f'==> {T}: Evaluation "5744eb15" finished with status "complete"\n'
    f'==> {T}: Monitoring deployment "3a364864"\n'
)


def _block(status: str, description: str, healthy: int) -> str:
    return (
        "\n"
        f"    {T}\n"
        "    ID          = 3a364864\n"
        "    Job ID      = example\n"
        "    Job Version = 0\n"
        f"    Status      = {status}\n"
        f"    Description = {description}\n"
        "\n"
        "    Deployed\n"
        "    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n"
        f"    cache       1        1       {healthy}        0          2020-06-21T18:46:45Z\n"
    )


def test_run_follows_the_deployment_to_success(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(fake)
    fake.route(
        "GET",
        DEP_PATH,
        Seq(
            Reply(body=RUNNING_0, index=30),
            # A blocking query that timed out: same block, not printed again.
            Reply(body=RUNNING_0, index=30),
            Reply(body=SUCCESS, index=33),
        ),
    )
    res = run_cli(["job", "run", str(job_file)], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        EVAL_LINES
        + _block("running", "Deployment is running", 0)
        + _block("successful", "Deployment completed successfully", 1)
        + "\n"
        + '  ✓ Deployment "3a364864" successful\n'
    )
    reads = fake.requests_to("GET", DEP_PATH)
    assert "index" not in reads[0].url.params
    assert [r.url.params.get("index") for r in reads[1:]] == ["30", "30"]
    assert all("wait" in r.url.params for r in reads[1:])
    # The unchanged index made the monitor pace itself once, no more.
    assert fake.sleeps == [1.0]


def test_run_exits_1_when_the_deployment_fails(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(fake)
    failed = _dep(
        "failed", "Failed due to unhealthy allocations", HealthyAllocs=0, UnhealthyAllocs=1
    )
    fake.route("GET", DEP_PATH, Seq(Reply(body=RUNNING_0, index=30), Reply(body=failed, index=31)))
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 1
    assert res.out.endswith(
        "    Status      = failed\n"
        "    Description = Failed due to unhealthy allocations\n"
        "\n"
        "    Deployed\n"
        "    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n"
        "    cache       1        1       0        1          2020-06-21T18:46:45Z\n"
        "\n"
        '  ! Deployment "3a364864" failed\n'
    )


def test_cancelled_deployment_exits_1(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(fake)
    fake.route("GET", DEP_PATH, _dep("cancelled", "Cancelled due to newer version of job"))
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 1
    assert res.out.endswith('  ! Deployment "3a364864" cancelled\n')


def test_detach_never_reads_the_deployment(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(fake)
    res = run_cli(["job", "run", "-detach", str(job_file)], fake)
    assert res.code == 0
    assert not fake.requests_to("GET", DEP_PATH)


def test_canaries_waiting_for_promotion_end_the_monitor_with_exit_0(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(fake)

    def waiting(healthy: int) -> dict[str, Any]:
        # Nomad words the description like this from the start, healthy or not.
        return d.deployment(
            Status="running",
            StatusDescription="Deployment is running but requires manual promotion",
            JobVersion=1,
            TaskGroups={
                "cache": d.deploy_group(
                    DesiredTotal=3, DesiredCanaries=1, PlacedAllocs=1, HealthyAllocs=healthy
                )
            },
        )

    fake.route(
        "GET", DEP_PATH, Seq(Reply(body=waiting(0), index=40), Reply(body=waiting(1), index=41))
    )
    res = run_cli(["job", "run", str(job_file)], fake)
    assert (res.code, res.err) == (0, "")
    # The canary not yet healthy: keep watching.
    assert "    cache       false     3        1         1       0        0" in res.out
    assert res.out.endswith(
        "\n"
        f"    {T}\n"
        "    ID          = 3a364864\n"
        "    Job ID      = example\n"
        "    Job Version = 1\n"
        "    Status      = running\n"
        "    Description = Deployment is running but requires manual promotion\n"
        "\n"
        "    Deployed\n"
        "    Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  "
        "Progress Deadline\n"
        "    cache       false     3        1         1       1        0          "
        "2020-06-21T18:46:45Z\n"
        "\n"
        '  ! Deployment "3a364864" requires manual promotion\n'
        '    Canaries are healthy; run "nomadtui deployment promote 3a364864" to roll out '
        "the rest\n"
    )
    assert len(fake.requests_to("GET", DEP_PATH)) == 2


def test_failed_deployment_with_auto_revert_follows_the_rollback(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(fake)
    rollback_id = "7a7a7a7a-0000-0000-0000-000000000000"
    failed = _dep(
        "failed",
        "Failed due to unhealthy allocations - rolling back to job version 0",
        AutoRevert=True,
        HealthyAllocs=0,
        UnhealthyAllocs=1,
    )
    rollback = d.deployment(ID=rollback_id, JobVersion=2)
    fake.route("GET", DEP_PATH, Reply(body=failed, index=31))
    fake.route("GET", "/v1/job/example/deployment", rollback)
    fake.route("GET", f"/v1/deployment/{rollback_id}", Reply(body=rollback, index=35))
    res = run_cli(["job", "run", str(job_file)], fake)
    # The rollback succeeding does not make the submitted version a success.
    assert res.code == 1
    out = res.out
    assert (
        '  ! Deployment "3a364864" failed\n'
        "\n"
        f'==> {T}: Monitoring rollback deployment "7a7a7a7a"\n'
        "\n"
        f"    {T}\n"
        "    ID          = 7a7a7a7a\n"
    ) in out
    assert "    Task Group  Auto Revert  Desired" in out
    assert out.endswith('  ✓ Deployment "7a7a7a7a" successful\n')
    assert "    Job Version = 2\n" in out
    assert fake.sleeps == [1.0]  # Nomad's pause before looking for the rollback


def test_without_eval_deployment_id_the_new_versions_deployment_is_found(
    job_file: Path,
) -> None:
    fake = FakeNomad()
    _submitted(fake, DeploymentID="")
    fake.route("GET", "/v1/job/example/deployment", d.deployment(JobVersion=3, CreateIndex=21))
    fake.route("GET", "/v1/job/example", d.job(Version=3))
    fake.route("GET", DEP_PATH, Reply(body=SUCCESS, index=33))
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 0
    assert f'==> {T}: Monitoring deployment "3a364864"\n' in res.out
    assert res.out.endswith('  ✓ Deployment "3a364864" successful\n')


@pytest.mark.parametrize(
    "latest",
    [
        None,  # batch job, or no update block
        d.deployment(JobVersion=2, CreateIndex=21),  # an older version's deployment
        d.deployment(JobVersion=3, CreateIndex=5),  # finished before this submission
    ],
)
def test_no_deployment_to_follow_ends_after_the_eval(
    job_file: Path, latest: dict[str, Any] | None
) -> None:
    fake = FakeNomad()
    _submitted(fake, DeploymentID="")
    fake.route("GET", "/v1/job/example/deployment", latest)
    fake.route("GET", "/v1/job/example", d.job(Version=3))
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 0
    assert "Monitoring deployment" not in res.out
    assert not fake.requests_to("GET", DEP_PATH)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tty_redraws_the_block_in_place(job_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNomad()
    _submitted(fake)
    fake.route("GET", DEP_PATH, Seq(Reply(body=RUNNING_0, index=30), Reply(body=SUCCESS, index=33)))
    out = _Terminal()
    runtime = Runtime(
        stdout=out,
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={},
        transport=fake.transport,
        now=lambda: NOW,
        sleep=fake.sleep,
    )
    code = main(["job", "run", "-no-color", str(job_file)], runtime)
    assert code == 0
    text = out.getvalue()
    progress, final = text.split(f'==> {T}: Monitoring deployment "3a364864"\n', 1)[1].split(
        "\x1b[", 1
    )
    assert progress.startswith('  ⠋ Deployment "3a364864" in progress...\n\n')
    assert "    Status      = running\n" in progress
    # The first frame is 13 rows: spinner, blank, time, 5 k/v, blank, title, 2 table rows.
    rows = progress.count("\n")
    assert final.startswith(f"{rows}F\x1b[J")
    assert final.endswith(
        '  ✓ Deployment "3a364864" successful\n'
        "\n"
        f"    {T}\n"
        "    ID          = 3a364864\n"
        "    Job ID      = example\n"
        "    Job Version = 0\n"
        "    Status      = successful\n"
        "    Description = Deployment completed successfully\n"
        "\n"
        "    Deployed\n"
        "    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n"
        "    cache       1        1       1        0          2020-06-21T18:46:45Z\n"
        "\n"
    )
    # A terminal gets short blocking waits so the spinner keeps turning.
    assert fake.requests_to("GET", DEP_PATH)[1].url.params["wait"] == "1000ms"


def test_placement_failure_exits_2_without_waiting_on_the_deployment(job_file: Path) -> None:
    fake = FakeNomad()
    _submitted(
        fake,
        FailedTGAllocs={"cache": d.failed_metric()},
        BlockedEval="b1b2b3b4-0000-0000-0000-000000000000",
    )
    fake.route("GET", DEP_PATH, Reply(body=RUNNING_0, index=30))
    res = run_cli(["job", "run", str(job_file)], fake)
    assert res.code == 2
    assert res.out.endswith("waiting for additional capacity to place remainder\n")
    assert "Monitoring deployment" not in res.out
    assert not fake.requests_to("GET", DEP_PATH)
