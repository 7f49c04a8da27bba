"""`deployment list | status | promote | fail | pause | resume`, `job
deployments` and `eval list`: layouts, request bodies, prefix resolution."""

from __future__ import annotations

import json
from typing import Any

import nt_data as d
from nt_fake import FakeNomad, Reply, run_cli

T = "2020-06-21T18:40:00Z"
DEP = d.DEPLOY_ID
OTHER = "3a99aaaa-0000-0000-0000-000000000000"


def _with_deployments(fake: FakeNomad, *deps: dict[str, Any]) -> None:
    listed = list(deps) or [d.deployment()]
    fake.route("GET", "/v1/deployments", listed)
    for dep in listed:
        fake.route("GET", f"/v1/deployment/{dep['ID']}", Reply(body=dep, index=50))


def test_deployment_list_newest_first() -> None:
    fake = FakeNomad()
    _with_deployments(
        fake,
        d.deployment(),
        d.deployment(
            ID=OTHER,
            JobVersion=1,
            CreateIndex=40,
            Status="running",
            StatusDescription="Deployment is running",
        ),
    )
    res = run_cli(["deployment", "list"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "ID        Job ID   Job Version  Status      Description\n"
        "3a99aaaa  example  1            running     Deployment is running\n"
        "3a364864  example  0            successful  Deployment completed successfully\n"
    )


def test_deployment_list_empty() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/deployments", [])
    assert run_cli(["deployment", "list"], fake).out == "No deployments found\n"


def test_deployment_status_layout_with_canaries_and_auto_revert() -> None:
    fake = FakeNomad()
    dep = d.deployment(
        JobVersion=2,
        Status="running",
        StatusDescription="Deployment is running but requires manual promotion",
        TaskGroups={
            "cache": d.deploy_group(
                AutoRevert=True,
                DesiredTotal=3,
                DesiredCanaries=1,
                PlacedAllocs=1,
                HealthyAllocs=1,
            ),
            "web": d.deploy_group(ProgressDeadline=0, RequireProgressBy=None),
        },
    )
    _with_deployments(fake, dep)
    res = run_cli(["deployment", "status", "3a36"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "ID          = 3a364864\n"
        "Job ID      = example\n"
        "Job Version = 2\n"
        "Status      = running\n"
        "Description = Deployment is running but requires manual promotion\n"
        "\n"
        "Deployed\n"
        "Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  "
        "Progress Deadline\n"
        "cache       true         false     3        1         1       1        0          "
        "2020-06-21T18:46:45Z\n"
        "web         false        N/A       1        0         1       1        0          N/A\n"
    )
    # Deployment IDs are hex-decoded by the server: the prefix is sent as typed.
    assert fake.requests_to("GET", "/v1/deployments")[0].url.params["prefix"] == "3a36"


def test_deployment_prefix_is_trimmed_to_even_length_and_may_be_ambiguous() -> None:
    fake = FakeNomad()
    _with_deployments(fake, d.deployment(), d.deployment(ID=OTHER))
    res = run_cli(["deployment", "status", "3a3"], fake)
    assert fake.requests_to("GET", "/v1/deployments")[0].url.params["prefix"] == "3a"
    assert res.code == 0  # only one of the two starts with "3a3"
    res = run_cli(["deployment", "status", "3a"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == (
        'Error retrieving deployment: Prefix "3a" matched multiple deployments: '
        "3a364864, 3a99aaaa\n"
    )


def test_deployment_status_unknown_id() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/deployments", [])
    res = run_cli(["deployment", "status", "ffff"], fake)
    assert (res.code, res.err) == (
        1,
        'Error retrieving deployment: No deployment(s) with prefix or id "ffff" found\n',
    )


def _eval_routes(fake: FakeNomad, **over: Any) -> None:
    ev = {
        "ID": d.EVAL_ID,
        "JobID": "example",
        "Status": "complete",
        "TriggeredBy": "deployment-watcher",
        "CreateIndex": 60,
    }
    ev.update(over)
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}", Reply(body=ev, index=61))
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])


def test_deployment_promote_all_then_monitors_eval_and_deployment() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    fake.route("PUT", f"/v1/deployment/promote/{DEP}", {"EvalID": d.EVAL_ID, "Index": 60})
    _eval_routes(fake, DeploymentID=DEP)
    res = run_cli(["deployment", "promote", "3a364864"], fake)
    assert (res.code, res.err) == (0, "")
    body = json.loads(fake.requests_to("PUT", f"/v1/deployment/promote/{DEP}")[0].content)
    assert body == {"DeploymentID": DEP, "All": True}
    lines = res.out.splitlines()
    assert lines[0] == f'==> {T}: Monitoring evaluation "5744eb15"'
    assert f'==> {T}: Monitoring deployment "3a364864"' in lines
    assert lines[-1] == '  ✓ Deployment "3a364864" successful'


def test_deployment_promote_groups_detach() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    fake.route("PUT", f"/v1/deployment/promote/{DEP}", {"EvalID": d.EVAL_ID})
    res = run_cli(
        ["deployment", "promote", "-group", "cache", "-group=web", "-detach", "3a364864"], fake
    )
    assert (res.code, res.out) == (0, f"Evaluation ID: {d.EVAL_ID}\n")
    body = json.loads(fake.requests_to("PUT", f"/v1/deployment/promote/{DEP}")[0].content)
    assert body == {"DeploymentID": DEP, "Groups": ["cache", "web"]}
    assert not fake.requests_to("GET", f"/v1/evaluation/{d.EVAL_ID}")


def test_deployment_promote_error_is_one_line() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    fake.route(
        "PUT",
        f"/v1/deployment/promote/{DEP}",
        Reply(status=400, text='Task group "cache" has 0/1 healthy allocations'),
    )
    res = run_cli(["deployment", "promote", "3a364864"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == (
        'Error promoting deployment: Task group "cache" has 0/1 healthy allocations\n'
    )


def test_deployment_fail_reports_the_auto_revert_and_detaches() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    fake.route("PUT", f"/v1/deployment/fail/{DEP}", {"EvalID": d.EVAL_ID, "RevertedJobVersion": 0})
    res = run_cli(["deployment", "fail", "-detach", "3a364864"], fake)
    assert (res.code, res.out) == (
        0,
        f'Deployment "{DEP}" failed. Auto-reverted to job version 0.\n',
    )
    body = json.loads(fake.requests_to("PUT", f"/v1/deployment/fail/{DEP}")[0].content)
    assert body == {"DeploymentID": DEP}


def test_deployment_fail_without_revert_monitors_the_eval() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    fake.route("PUT", f"/v1/deployment/fail/{DEP}", {"EvalID": d.EVAL_ID})
    _eval_routes(fake)
    res = run_cli(["deployment", "fail", "3a364864"], fake)
    assert res.code == 0
    assert res.out.startswith(
        f'Deployment "{DEP}" failed\n\n==> {T}: Monitoring evaluation "5744eb15"\n'
    )


def test_deployment_pause_and_resume_bodies() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    fake.route("PUT", f"/v1/deployment/pause/{DEP}", {"EvalID": "", "Index": 70})
    res = run_cli(["deployment", "pause", "3a364864"], fake)
    assert (res.code, res.out) == (0, f'Deployment "{DEP}" paused\n')
    res = run_cli(["deployment", "resume", "3a364864"], fake)
    assert (res.code, res.out) == (0, f'Deployment "{DEP}" resumed\n')
    bodies = [json.loads(r.content) for r in fake.requests_to("PUT", f"/v1/deployment/pause/{DEP}")]
    assert bodies == [
        {"DeploymentID": DEP, "Pause": True},
        {"DeploymentID": DEP, "Pause": False},
    ]


def test_deployment_status_monitor_flag() -> None:
    fake = FakeNomad()
    _with_deployments(fake)
    res = run_cli(["deployment", "status", "-monitor", "3a364864"], fake)
    assert res.code == 0
    assert res.out.startswith(f'{T}: Monitoring deployment "3a364864"\n\n    {T}\n')
    assert res.out.endswith('  ✓ Deployment "3a364864" successful\n')


def test_job_deployments_list_and_latest() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route(
        "GET",
        "/v1/job/example/deployments",
        [d.deployment(), d.deployment(ID=OTHER, JobVersion=1, CreateIndex=40)],
    )
    fake.route("GET", "/v1/job/example/deployment", d.deployment(ID=OTHER, JobVersion=1))
    res = run_cli(["job", "deployments", "exam"], fake)
    assert res.out.splitlines() == [
        "ID        Job ID   Job Version  Status      Description",
        "3a99aaaa  example  1            successful  Deployment completed successfully",
        "3a364864  example  0            successful  Deployment completed successfully",
    ]
    latest = run_cli(["job", "deployments", "-latest", "example"], fake)
    assert latest.out.splitlines()[:3] == [
        "ID          = 3a99aaaa",
        "Job ID      = example",
        "Job Version = 1",
    ]
    fake.route("GET", "/v1/job/example/deployment", None)
    none = run_cli(["job", "deployments", "-latest", "example"], fake)
    assert none.out == "No deployment found\n"


def test_eval_list_layout_and_filters() -> None:
    fake = FakeNomad()
    fake.route(
        "GET",
        "/v1/evaluations",
        [
            {
                "ID": d.EVAL_ID,
                "Priority": 50,
                "TriggeredBy": "job-register",
                "JobID": "example",
                "Namespace": "default",
                "NodeID": "",
                "Status": "complete",
                "FailedTGAllocs": {"cache": d.failed_metric()},
            },
            {
                "ID": "b1b2b3b4-0000-0000-0000-000000000000",
                "Priority": 50,
                "TriggeredBy": "queued-allocs",
                "JobID": "example",
                "Namespace": "default",
                "NodeID": d.NODE_ID,
                "Status": "blocked",
            },
        ],
    )
    res = run_cli(["eval", "list", "-job", "example", "-status=complete"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "ID        Priority  Triggered By   Job ID   Namespace  Node ID   Status    "
        "Placement Failures\n"
        "5744eb15  50        job-register   example  default    <none>    complete  true\n"
        "b1b2b3b4  50        queued-allocs  example  default    06484218  blocked   "
        "N/A - In Progress\n"
    )
    params = fake.requests_to("GET", "/v1/evaluations")[0].url.params
    assert (params["job"], params["status"]) == ("example", "complete")
    fake.route("GET", "/v1/evaluations", [])
    assert run_cli(["eval", "list"], fake).out == "No evals found\n"
    assert "job" not in fake.calls[-1].url.params
