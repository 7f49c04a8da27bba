"""`status` / `job status` against a canned API: exact layouts and errors."""

from __future__ import annotations

import nt_data as d
from nt_fake import FakeNomad, Reply, run_cli


def test_job_list_layout() -> None:
    fake = FakeNomad()
    fake.route(
        "GET",
        "/v1/jobs",
        [
            d.job_stub(),
            d.job_stub(ID="nightly", Type="batch", Periodic=True, Status="running"),
            d.job_stub(ID="old", Status="dead", Stop=True, Priority=70),
        ],
    )
    res = run_cli(["status"], fake)
    assert res.code == 0, res.err
    assert res.out == (
        "ID       Type            Priority  Status          Submit Date\n"
        "example  service         50        running         2020-06-21T18:36:27Z\n"
        "nightly  batch/periodic  50        running         2020-06-21T18:36:27Z\n"
        "old      service         70        dead (stopped)  2020-06-21T18:36:27Z\n"
    )


def test_job_list_empty_and_all_namespaces_column() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [])
    assert run_cli(["job", "status"], fake).out == "No running jobs\n"
    fake.route("GET", "/v1/jobs", [d.job_stub(Namespace="apps")])
    res = run_cli(["status", "-namespace=*"], fake)
    assert res.out.splitlines()[0].split() == [
        "ID",
        "Namespace",
        "Type",
        "Priority",
        "Status",
        "Submit",
        "Date",
    ]
    assert fake.calls[-1].url.params["namespace"] == "*"


def _job_routes(fake: FakeNomad) -> None:
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route("GET", "/v1/job/example", d.job())
    fake.route("GET", "/v1/job/example/summary", d.summary())
    fake.route("GET", "/v1/job/example/evaluations", [])
    fake.route("GET", "/v1/job/example/deployment", d.deployment())
    fake.route(
        "GET",
        "/v1/job/example/allocations",
        [
            d.alloc_stub(),
            d.alloc_stub(
                ID="7bfc220b-0000-0000-0000-000000000000",
                CreateIndex=30,
                CreateTime=d.ago_ns(24),
                ModifyTime=d.ago_ns(4),
                JobVersion=1,
            ),
        ],
    )


def test_job_status_layout() -> None:
    fake = FakeNomad()
    _job_routes(fake)
    res = run_cli(["status", "example"], fake)
    assert res.code == 0, res.err
    assert res.out == (
        "ID            = example\n"
        "Name          = example\n"
        "Submit Date   = 2020-06-21T18:36:27Z\n"
        "Type          = service\n"
        "Priority      = 50\n"
        "Datacenters   = dc1\n"
        "Namespace     = default\n"
        "Node Pool     = default\n"
        "Status        = running\n"
        "Periodic      = false\n"
        "Parameterized = false\n"
        "\n"
        "Summary\n"
        "Task Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\n"
        "cache       0       0         1        0       0         0     0\n"
        "\n"
        "Latest Deployment\n"
        "ID          = 3a364864\n"
        "Status      = successful\n"
        "Description = Deployment completed successfully\n"
        "\n"
        "Deployed\n"
        "Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n"
        "cache       1        1       1        0          2020-06-21T18:46:45Z\n"
        "\n"
        "Allocations\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created    Modified\n"
        "7bfc220b  06484218  cache       1        run      running  24s ago    4s ago\n"
        "0f09c03d  06484218  cache       0        run      running  3m28s ago  3m10s ago\n"
    )


def test_job_status_short_stops_after_the_header_block() -> None:
    fake = FakeNomad()
    _job_routes(fake)
    res = run_cli(["job", "status", "-short", "example"], fake)
    assert res.out.splitlines()[-1] == "Parameterized = false"
    assert not fake.requests_to("GET", "/v1/job/example/allocations")


def test_job_status_placement_failure_section() -> None:
    fake = FakeNomad()
    _job_routes(fake)
    fake.route("GET", "/v1/job/example/deployment", None)
    fake.route("GET", "/v1/job/example/allocations", [])
    fake.route(
        "GET",
        "/v1/job/example/evaluations",
        [
            {
                "ID": "e1",
                "Status": "complete",
                "CreateIndex": 20,
                "FailedTGAllocs": {"cache": d.failed_metric()},
            },
            {"ID": "e2", "Status": "blocked", "CreateIndex": 21, "FailedTGAllocs": None},
        ],
    )
    res = run_cli(["status", "example"], fake)
    tail = res.out.split("\nPlacement Failure\n", 1)[1]
    assert tail == (
        'Task Group "cache":\n'
        "  * Resources exhausted on 1 nodes\n"
        '  * Dimension "memory" exhausted on 1 nodes\n'
        "\n"
        "Allocations\n"
        "No allocations placed\n"
    )


def test_no_placement_failure_section_without_a_blocked_eval() -> None:
    fake = FakeNomad()
    _job_routes(fake)
    fake.route(
        "GET",
        "/v1/job/example/evaluations",
        [
            {
                "ID": "e1",
                "Status": "complete",
                "CreateIndex": 20,
                "FailedTGAllocs": {"cache": d.failed_metric()},
            },
        ],
    )
    assert "Placement Failure" not in run_cli(["status", "example"], fake).out


def test_unknown_job_is_one_error_line() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [])
    res = run_cli(["status", "nope"], fake)
    assert res.code == 1
    assert res.out == ""
    assert res.err == 'Error querying job: No job(s) with prefix or id "nope" found\n'


def test_job_404_is_one_error_line() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub()])
    fake.route("GET", "/v1/job/example", Reply(status=404, text="job not found"))
    res = run_cli(["job", "status", "example"], fake)
    assert (res.code, res.out, res.err) == (1, "", "Error querying job: job not found\n")


def test_ambiguous_job_prefix_is_one_error_line() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [d.job_stub(), d.job_stub(ID="example2")])
    res = run_cli(["status", "ex"], fake)
    assert res.code == 1
    assert res.err == ('Error querying job: Prefix "ex" matched multiple jobs: example, example2\n')


def test_job_status_evals_section_newest_first() -> None:
    fake = FakeNomad()
    _job_routes(fake)
    fake.route(
        "GET",
        "/v1/job/example/evaluations",
        [
            {
                "ID": "e1000000-0",
                "Priority": 50,
                "TriggeredBy": "job-register",
                "Status": "complete",
                "CreateIndex": 20,
                "FailedTGAllocs": {"cache": {}},
            },
            {
                "ID": "e2000000-0",
                "Priority": 50,
                "TriggeredBy": "queued-allocs",
                "Status": "blocked",
                "CreateIndex": 21,
            },
        ],
    )
    out = run_cli(["status", "-evals", "example"], fake).out
    section = out.split("\nEvaluations\n", 1)[1].split("\n\n", 1)[0]
    assert section == (
        "ID        Priority  Triggered By   Status    Placement Failures\n"
        "e2000000  50        queued-allocs  blocked   N/A - In Progress\n"
        "e1000000  50        job-register   complete  true"
    )
