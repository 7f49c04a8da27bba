"""validate(): each rule's message and, for HCL input, the line it points at."""

from __future__ import annotations

import pytest

from controlplane.errors import JobSpecError
from controlplane.jobspec import canonicalize, parse_job, validate
from controlplane.structs import Job, Task, TaskGroup


def _error(text: str) -> JobSpecError:
    with pytest.raises(JobSpecError) as info:
        parse_job(text, "example.nomad")
    return info.value


CASES = [
    (
        "count",
        'job "e" {\n  group "cache" {\n    count = -1\n    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:3: group "cache": count must be >= 0',
    ),
    (
        "type",
        'job "e" {\n  type = "cron"\n  task "t" { driver = "exec" }\n}\n',
        'example.nomad:2: invalid job type "cron" (expected one of batch, service, '
        "sysbatch, system)",
    ),
    (
        "priority",
        'job "e" {\n\n  priority = 101\n  task "t" { driver = "exec" }\n}\n',
        "example.nomad:3: priority must be between 1 and 100 (got 101)",
    ),
    (
        "id-space",
        'job "my job" {\n  task "t" { driver = "exec" }\n}\n',
        'example.nomad:1: job ID "my job" must not contain spaces',
    ),
    (
        "id-length",
        'job "' + "x" * 129 + '" {\n  task "t" { driver = "exec" }\n}\n',
        "example.nomad:1: job ID must be at most 128 characters",
    ),
    (
        "no-groups",
        'job "e" {\n  datacenters = ["dc1"]\n}\n',
        "example.nomad:1: job has no task groups",
    ),
    (
        "duplicate-group",
        'job "e" {\n  group "g" {\n    task "t" { driver = "exec" }\n  }\n'
        '  group "g" {\n    task "u" { driver = "exec" }\n  }\n}\n',
        'example.nomad:2: group "g" is defined more than once',
    ),
    (
        "duplicate-task",
        'job "e" {\n  group "g" {\n    task "t" { driver = "exec" }\n\n'
        '    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:3: group "g": task "t" is defined more than once',
    ),
    (
        "system-count",
        'job "e" {\n  type = "system"\n  group "g" {\n    count = 2\n'
        '    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:4: group "g": system jobs may not have count > 1 (got 2)',
    ),
    (
        "driver",
        'job "e" {\n  group "g" {\n    task "t" {\n      user = "nobody"\n    }\n  }\n}\n',
        'example.nomad:3: group "g" task "t": driver is required',
    ),
    (
        "negative-cpu",
        'job "e" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n'
        "      resources {\n        cpu = -5\n      }\n    }\n  }\n}\n",
        'example.nomad:6: group "g" task "t": resources: cpu must not be negative (got -5)',
    ),
    (
        "memory-minimum",
        'job "e" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n'
        "      resources {\n        cpu = 100\n        memory = 5\n      }\n    }\n  }\n}\n",
        'example.nomad:7: group "g" task "t": resources: memory must be at least 10 MB (got 5)',
    ),
    (
        "duplicate-port",
        'job "e" {\n  group "g" {\n    network {\n      port "db" {}\n      port "db" {}\n'
        '    }\n    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:4: group "g": port label "db" is defined more than once',
    ),
    (
        "static-port-range",
        'job "e" {\n  group "g" {\n    network {\n      port "http" {\n'
        '        static = 70000\n      }\n    }\n    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:5: group "g": port "http": static port 70000 is out of range (1-65535)',
    ),
    (
        "max-parallel",
        'job "e" {\n  group "g" {\n    count = 2\n    update {\n      max_parallel = 3\n'
        '    }\n    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:5: group "g": update max_parallel (3) must not exceed count (2)',
    ),
    (
        "max-parallel-from-job",
        'job "e" {\n  update {\n    max_parallel = 4\n  }\n  group "g" {\n    count = 2\n'
        '    task "t" { driver = "exec" }\n  }\n}\n',
        'example.nomad:3: group "g": update max_parallel (4) must not exceed count (2)',
    ),
    (
        "service-port",
        'job "e" {\n  group "g" {\n    network {\n      port "db" {}\n    }\n'
        '    task "t" {\n      driver = "exec"\n      service {\n        name = "web"\n'
        '        port = "http"\n      }\n    }\n  }\n}\n',
        'example.nomad:10: group "g" task "t": service "web": port label "http" is not '
        "defined in any network",
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_message_and_line(text: str, message: str) -> None:
    assert str(_error(text)) == message


def test_error_exposes_file_line_and_bare_message() -> None:
    err = _error(CASES[0][1])
    assert (err.file, err.line, err.detail) == (
        "example.nomad",
        3,
        'group "cache": count must be >= 0',
    )


def test_service_may_name_a_numeric_port() -> None:
    job = parse_job(
        'job "e" {\n  group "g" {\n    service {\n      port = 8080\n    }\n'
        '    task "t" { driver = "exec" }\n  }\n}\n'
    )
    assert job.task_groups[0].services is not None
    assert job.task_groups[0].services[0].port_label == "8080"


def test_max_parallel_may_exceed_a_count_of_one() -> None:
    job = parse_job(
        'job "e" {\n  group "g" {\n    update { max_parallel = 3 }\n'
        '    task "t" { driver = "exec" }\n  }\n}\n'
    )
    assert job.task_groups[0].update is not None


def test_task_network_ports_are_scoped_per_task() -> None:
    text = (
        'job "e" {\n  group "g" {\n'
        + "".join(
            f'    task "{name}" {{\n      driver = "exec"\n      resources {{\n'
            '        network {\n          port "http" {}\n        }\n      }\n'
            '      service {\n        port = "http"\n      }\n    }\n'
            for name in ("a", "b")
        )
        + "  }\n}\n"
    )
    job = parse_job(text)
    assert [t.name for t in job.task_groups[0].tasks] == ["a", "b"]


def test_validate_without_lines_has_no_location() -> None:
    job = canonicalize(Job(id="x", task_groups=[TaskGroup(name="g", tasks=[Task(name="t")])]))
    with pytest.raises(JobSpecError) as info:
        validate(job)
    assert str(info.value) == 'group "g" task "t": driver is required'
    assert info.value.line is None


def test_valid_job_passes() -> None:
    job = canonicalize(
        Job(id="x", task_groups=[TaskGroup(name="g", tasks=[Task(name="t", driver="exec")])])
    )
    validate(job)
