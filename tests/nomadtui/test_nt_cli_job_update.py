"""`job plan | scale | history | revert`: request bodies, output, exit codes.

The plan/diff renderer is another module's business; here it is replaced
by a stand-in that records what it was given.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import nt_data as d
import pytest
from nt_fake import NOW, FakeNomad, Reply, run_cli

T = "2020-06-21T18:40:00Z"

JOB_HCL = """
job "example" {
  datacenters = ["dc1"]
  group "cache" {
    count = 3
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
    }
  }
}
"""

PLAN_RESPONSE = {
    "JobModifyIndex": 19,
    "Diff": {"Type": "Edited", "ID": "example"},
    "Annotations": {"DesiredTGUpdates": {"cache": {"Place": 2, "InPlaceUpdate": 1}}},
    "FailedTGAllocs": None,
    "CreatedEvals": None,
}


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "example.nomad"
    path.write_text(JOB_HCL)
    return path


@pytest.fixture
def renderer(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """A stand-in `nomadtui.cli.plan_render` recording its calls."""
    calls: list[tuple[Any, ...]] = []
    context_seen: list[dict[str, Any]] = []
    module = types.ModuleType("nomadtui.cli.plan_render")

    def render_plan(
        resp: dict[str, Any],
        job_file: str,
        verbose: bool = False,
        diff: bool = True,
        **context: Any,
    ) -> tuple[str, int]:
        calls.append(("plan", resp, job_file, verbose, diff))
        context_seen.append(context)
        return "PLAN TEXT\nJob Modify Index: 19", 1

    def render_diff(diff: dict[str, Any], verbose: bool) -> str:
        calls.append(("diff", diff, verbose))
        return f'+/- Job: "{diff["ID"]}"\n+/- Count: "{diff["Old"]}" => "{diff["New"]}"\n'

    module.render_plan = render_plan  # type: ignore[attr-defined]
    module.render_diff = render_diff  # type: ignore[attr-defined]
    module.context_seen = context_seen  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nomadtui.cli.plan_render", module)
    return calls


# -- plan -----------------------------------------------------------------------


def test_plan_sends_the_parsed_job_and_prints_the_rendering(
    job_file: Path, renderer: list[tuple[Any, ...]]
) -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/job/example/plan", PLAN_RESPONSE)
    res = run_cli(["job", "plan", str(job_file)], fake)
    assert (res.code, res.out, res.err) == (1, "PLAN TEXT\nJob Modify Index: 19\n", "")
    body = json.loads(fake.requests_to("PUT", "/v1/job/example/plan")[0].content)
    assert body["Diff"] is True
    assert body["Job"]["ID"] == "example"
    assert body["Job"]["TaskGroups"][0]["Count"] == 3
    assert renderer == [("plan", PLAN_RESPONSE, str(job_file), False, True)]
    # The job's type (system jobs word failures differently) and the CLI clock.
    assert sys.modules["nomadtui.cli.plan_render"].context_seen == [  # type: ignore[attr-defined]
        {"job_type": "service", "now": NOW}
    ]
    # A dry run only: nothing registered.
    assert not fake.requests_to("PUT", "/v1/jobs")


def test_plan_diff_false_and_verbose_reach_server_and_renderer(
    job_file: Path, renderer: list[tuple[Any, ...]]
) -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/job/example/plan", PLAN_RESPONSE)
    res = run_cli(["job", "plan", "-diff=false", "-verbose", str(job_file)], fake)
    assert res.code == 1
    assert json.loads(fake.requests_to("PUT", "/v1/job/example/plan")[0].content)["Diff"] is False
    assert renderer[-1][3:] == (True, False)
    # `-diff` alone (Go's bool flag) must not swallow the file argument.
    res = run_cli(["job", "plan", "-diff", str(job_file)], fake)
    assert res.code == 1
    assert renderer[-1][2:] == (str(job_file), False, True)


def test_plan_errors_exit_255(job_file: Path, tmp_path: Path) -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/job/example/plan", Reply(status=500, text="rpc error: no leader"))
    res = run_cli(["job", "plan", str(job_file)], fake)
    assert (res.code, res.out, res.err) == (255, "", "Error during plan: rpc error: no leader\n")

    bad = tmp_path / "bad.nomad"
    bad.write_text('job "x" {\n  group "g" {\n    count = \n  }\n}\n')
    res = run_cli(["job", "plan", str(bad)], fake)
    assert res.code == 255
    assert res.err.startswith(f"Error parsing job file {bad}:3")

    res = run_cli(["job", "plan"], fake)
    assert res.code == 255
    assert res.err.startswith("Error: the following arguments are required: file")


def test_plan_with_the_real_renderer(job_file: Path) -> None:
    fake = FakeNomad()
    fake.route(
        "PUT",
        "/v1/job/example/plan",
        {
            "JobModifyIndex": 19,
            "Diff": {
                "Type": "Edited",
                "ID": "example",
                "Fields": None,
                "Objects": None,
                "TaskGroups": [
                    {
                        "Type": "Edited",
                        "Name": "cache",
                        "Fields": [
                            {
                                "Type": "Edited",
                                "Name": "Count",
                                "Old": "1",
                                "New": "3",
                                "Annotations": ["forces create"],
                            }
                        ],
                        "Objects": None,
                        "Tasks": None,
                        "Updates": {"create": 2, "in-place update": 1},
                    }
                ],
            },
            "Annotations": {
                "DesiredTGUpdates": {"cache": {"Place": 2, "InPlaceUpdate": 1}},
                "PreemptedAllocs": None,
            },
            "FailedTGAllocs": None,
            "CreatedEvals": None,
            "Warnings": "",
        },
    )
    res = run_cli(["job", "plan", str(job_file)], fake)
    assert (res.code, res.err) == (1, "")
    lines = res.out.splitlines()
    assert lines[0] == '+/- Job: "example"'
    assert '+/- Task Group: "cache" (2 create, 1 in-place update)' in lines
    assert "Scheduler dry-run:" in lines
    assert "Job Modify Index: 19" in lines
    assert any(f"-check-index 19 {job_file}" in line for line in lines)


# -- scale ----------------------------------------------------------------------


def _scale_routes(fake: FakeNomad, groups: tuple[str, ...] = ("cache",)) -> None:
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route(
        "GET",
        "/v1/job/example",
        d.job(TaskGroups=[{"Name": g, "Count": 1, "Tasks": []} for g in groups]),
    )
    fake.route(
        "PUT",
        "/v1/job/example/scale",
        {"EvalID": d.EVAL_ID, "EvalCreateIndex": 40, "JobModifyIndex": 39, "Warnings": ""},
    )
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}",
        Reply(
            body={
                "ID": d.EVAL_ID,
                "JobID": "example",
                "Status": "complete",
                "TriggeredBy": "job-scaling",
                "CreateIndex": 40,
            },
            index=41,
        ),
    )
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])


def _scale_body(fake: FakeNomad) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(fake.requests_to("PUT", "/v1/job/example/scale")[0].content)
    return body


def test_scale_the_only_group_sends_nomads_message_and_monitors() -> None:
    fake = FakeNomad()
    _scale_routes(fake)
    res = run_cli(["job", "scale", "example", "3"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "Job scale successful\n"
        f'==> {T}: Monitoring evaluation "5744eb15"\n'
        f'    {T}: Evaluation triggered by job "example"\n'
        f'==> {T}: Evaluation "5744eb15" finished with status "complete"\n'
    )
    assert _scale_body(fake) == {
        "Count": 3,
        "Target": {"Job": "example", "Group": "cache"},
        "Message": "submitted using the Nomad CLI",
    }


def test_scale_named_group_detach_and_check_index() -> None:
    fake = FakeNomad()
    _scale_routes(fake, ("api", "cache"))
    res = run_cli(["job", "scale", "-detach", "-check-index", "39", "example", "api", "0"], fake)
    assert (res.code, res.out) == (0, f"Job scale successful\nEvaluation ID: {d.EVAL_ID}\n")
    body = _scale_body(fake)
    assert body["Target"] == {"Job": "example", "Group": "api"}
    assert (body["Count"], body["EnforceIndex"], body["JobModifyIndex"]) == (0, True, 39)
    assert not fake.requests_to("GET", f"/v1/evaluation/{d.EVAL_ID}")


def test_scale_requires_a_group_when_the_job_has_several() -> None:
    fake = FakeNomad()
    _scale_routes(fake, ("web", "cache"))
    res = run_cli(["job", "scale", "example", "3"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == (
        'Error: Group name required: job "example" has 2 task groups ("cache", "web")\n'
    )
    assert not fake.requests_to("PUT", "/v1/job/example/scale")


def test_scale_unknown_group_and_bad_count() -> None:
    fake = FakeNomad()
    _scale_routes(fake)
    res = run_cli(["job", "scale", "example", "db", "3"], fake)
    assert (res.code, res.err) == (1, 'Error: Group "db" not found within job "example"\n')
    res = run_cli(["job", "scale", "example", "three"], fake)
    assert (res.code, res.err) == (1, 'Error: count must be an integer, got "three"\n')
    res = run_cli(["job", "scale", "example", "cache", "3", "4"], fake)
    assert (res.code, res.err) == (1, "Error: job scale takes JOB [GROUP] COUNT\n")
    assert not fake.requests_to("PUT", "/v1/job/example/scale")


def test_scale_server_refusals() -> None:
    fake = FakeNomad()
    _scale_routes(fake)
    fake.route(
        "PUT",
        "/v1/job/example/scale",
        Reply(status=400, text="job scaling blocked due to active deployment"),
    )
    res = run_cli(["job", "scale", "example", "3"], fake)
    assert (res.code, res.err) == (
        1,
        "Error submitting scaling request: job scaling blocked due to active deployment\n",
    )
    fake.route(
        "PUT",
        "/v1/job/example/scale",
        Reply(
            status=409,
            text="Enforcing job modify index 5: job exists with conflicting job modify index: 39",
        ),
    )
    res = run_cli(["job", "scale", "-check-index", "5", "example", "3"], fake)
    assert (res.code, res.err) == (
        1,
        "Enforcing job modify index 5: job exists with conflicting job modify index: 39\n"
        "Job not updated\n",
    )


# -- history --------------------------------------------------------------------


def _versions(fake: FakeNomad, with_diffs: bool) -> None:
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    versions = [
        d.job(Version=2, Stable=False, SubmitTime=d.SUBMIT_NS + 120 * d.SEC),
        d.job(Version=1, Stable=True, SubmitTime=d.SUBMIT_NS + 60 * d.SEC),
        d.job(Version=0, Stable=True),
    ]
    diffs = [
        {"Type": "Edited", "ID": "example", "Old": "3", "New": "5"},
        {"Type": "Edited", "ID": "example", "Old": "1", "New": "3"},
    ]
    fake.route(
        "GET",
        "/v1/job/example/versions",
        {"Versions": versions, "Diffs": diffs if with_diffs else None},
    )


def test_history_lists_versions_newest_first() -> None:
    fake = FakeNomad()
    _versions(fake, with_diffs=False)
    res = run_cli(["job", "history", "example"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "Version     = 2\n"
        "Stable      = false\n"
        "Submit Date = 2020-06-21T18:38:27Z\n"
        "\n"
        "Version     = 1\n"
        "Stable      = true\n"
        "Submit Date = 2020-06-21T18:37:27Z\n"
        "\n"
        "Version     = 0\n"
        "Stable      = true\n"
        "Submit Date = 2020-06-21T18:36:27Z\n"
    )
    assert "diffs" not in fake.requests_to("GET", "/v1/job/example/versions")[0].url.params


def test_history_p_renders_each_diff_against_the_previous_version(
    renderer: list[tuple[Any, ...]],
) -> None:
    fake = FakeNomad()
    _versions(fake, with_diffs=True)
    res = run_cli(["job", "history", "-p", "example"], fake)
    assert res.code == 0
    assert res.out == (
        "Version     = 2\n"
        "Stable      = false\n"
        "Submit Date = 2020-06-21T18:38:27Z\n"
        "Diff        =\n"
        '+/- Job: "example"\n'
        '+/- Count: "3" => "5"\n'
        "\n"
        "Version     = 1\n"
        "Stable      = true\n"
        "Submit Date = 2020-06-21T18:37:27Z\n"
        "Diff        =\n"
        '+/- Job: "example"\n'
        '+/- Count: "1" => "3"\n'
        "\n"
        "Version     = 0\n"
        "Stable      = true\n"
        "Submit Date = 2020-06-21T18:36:27Z\n"
    )
    assert fake.requests_to("GET", "/v1/job/example/versions")[0].url.params["diffs"] == "true"
    assert [c[2] for c in renderer] == [False, False]  # Nomad renders history diffs terse


def test_history_one_version_full(renderer: list[tuple[Any, ...]]) -> None:
    fake = FakeNomad()
    _versions(fake, with_diffs=True)
    res = run_cli(["job", "history", "-p", "-full", "-version", "1", "example"], fake)
    assert res.code == 0
    head, full = res.out.split("Full        = JSON Job:\n", 1)
    assert head == (
        "Version     = 1\n"
        "Stable      = true\n"
        "Submit Date = 2020-06-21T18:37:27Z\n"
        "Diff        =\n"
        '+/- Job: "example"\n'
        '+/- Count: "1" => "3"\n'
    )
    assert json.loads(full)["Version"] == 1
    res = run_cli(["job", "history", "-version", "7", "example"], fake)
    assert (res.code, res.err) == (
        1,
        "Error printing job history for non-existing job or job version\n",
    )


# -- revert ---------------------------------------------------------------------


def test_revert_sends_the_version_and_monitors() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route("PUT", "/v1/job/example/revert", {"EvalID": d.EVAL_ID, "JobModifyIndex": 50})
    fake.route(
        "GET",
        f"/v1/evaluation/{d.EVAL_ID}",
        {"ID": d.EVAL_ID, "JobID": "example", "Status": "complete", "DeploymentID": ""},
    )
    fake.route("GET", f"/v1/evaluation/{d.EVAL_ID}/allocations", [])
    fake.route("GET", "/v1/job/example/deployment", None)
    res = run_cli(["job", "revert", "exam", "1"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out.endswith(f'==> {T}: Evaluation "5744eb15" finished with status "complete"\n')
    body = json.loads(fake.requests_to("PUT", "/v1/job/example/revert")[0].content)
    assert body == {"JobID": "example", "JobVersion": 1}

    res = run_cli(["job", "revert", "-detach", "example", "0"], fake)
    assert (res.code, res.out) == (0, f"Evaluation ID: {d.EVAL_ID}\n")


def test_revert_errors() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    res = run_cli(["job", "revert", "example", "v1"], fake)
    assert (res.code, res.err) == (1, 'Error: version must be a number, got "v1"\n')
    fake.route("PUT", "/v1/job/example/revert", Reply(status=404, text="job version not found"))
    res = run_cli(["job", "revert", "example", "9"], fake)
    assert (res.code, res.err) == (1, "Error reverting job: job version not found\n")


def test_history_p_with_the_real_diff_renderer() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    count_diff = {
        "Type": "Edited",
        "Name": "Count",
        "Old": "1",
        "New": "3",
        "Annotations": None,
    }
    fake.route(
        "GET",
        "/v1/job/example/versions",
        {
            "Versions": [d.job(Version=1), d.job(Version=0)],
            "Diffs": [
                {
                    "Type": "Edited",
                    "ID": "example",
                    "Fields": None,
                    "Objects": None,
                    "TaskGroups": [
                        {
                            "Type": "Edited",
                            "Name": "cache",
                            "Fields": [count_diff],
                            "Objects": None,
                            "Tasks": None,
                            "Updates": None,
                        }
                    ],
                }
            ],
        },
    )
    res = run_cli(["job", "history", "-p", "example"], fake)
    assert res.code == 0
    assert res.out.split("\n\n")[0] == (
        "Version     = 1\n"
        "Stable      = false\n"
        "Submit Date = 2020-06-21T18:36:27Z\n"
        "Diff        =\n"
        '+/- Job: "example"\n'
        '+/- Task Group: "cache"\n'
        '  +/- Count: "1" => "3"'
    )
