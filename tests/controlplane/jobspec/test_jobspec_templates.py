"""`job init` templates parse into the seed's example job."""

from __future__ import annotations

from pathlib import Path

from controlplane.jobspec import init_template, parse_job, parse_job_api

SEC = 1_000_000_000
REPO = Path(__file__).resolve().parents[3]


def test_full_template_is_the_seed_example() -> None:
    text = init_template()
    assert text.count("#") > 20  # the full version explains each block
    job = parse_job(text, "example.nomad")
    assert (job.id, job.name, job.type, job.datacenters) == (
        "example",
        "example",
        "service",
        ["dc1"],
    )
    (group,) = job.task_groups
    assert (group.name, group.count) == ("cache", 1)
    assert group.restart_policy is not None
    assert (group.restart_policy.attempts, group.restart_policy.interval) == (2, 1800 * SEC)
    assert (group.restart_policy.delay, group.restart_policy.mode) == (15 * SEC, "fail")
    assert group.ephemeral_disk is not None and group.ephemeral_disk.size_mb == 300
    assert group.update is not None
    assert (group.update.max_parallel, group.update.healthy_deadline) == (1, 180 * SEC)
    assert (group.update.min_healthy_time, group.update.progress_deadline) == (10 * SEC, 600 * SEC)
    assert group.migrate is not None and group.migrate.healthy_deadline == 300 * SEC
    (task,) = group.tasks
    assert (task.name, task.driver) == ("redis", "docker")
    assert task.config == {"image": "redis:3.2", "port_map": [{"db": 6379}]}
    assert task.resources is not None
    assert (task.resources.cpu, task.resources.memory_mb) == (500, 256)
    assert task.resources.networks is not None
    net = task.resources.networks[0]
    assert net.mbits == 10
    assert net.dynamic_ports is not None and [p.label for p in net.dynamic_ports] == ["db"]
    assert task.services is not None
    (svc,) = task.services
    assert (svc.name, svc.tags, svc.port_label) == ("redis-cache", ["global", "cache"], "db")
    assert svc.checks is not None
    (check,) = svc.checks
    assert (check.name, check.type, check.interval, check.timeout) == (
        "alive",
        "tcp",
        10 * SEC,
        2 * SEC,
    )


def test_short_template_has_no_comments_and_same_names() -> None:
    text = init_template(short=True)
    assert "#" not in text
    api = parse_job_api(text)
    group = api["TaskGroups"][0]
    task = group["Tasks"][0]
    assert (api["ID"], group["Name"], task["Name"]) == ("example", "cache", "redis")
    assert task["Config"]["port_map"] == [{"db": 6379}]
    assert task["Resources"]["Networks"][0]["DynamicPorts"][0]["Label"] == "db"


def test_examples_file_is_the_full_template_verbatim() -> None:
    assert (REPO / "examples" / "example.nomad").read_text(encoding="utf-8") == init_template()
