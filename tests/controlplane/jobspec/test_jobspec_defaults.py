"""canonicalize(): Nomad's defaults per job type, job->group merging, idempotence."""

from __future__ import annotations

import pytest

from controlplane.jobspec import canonicalize, parse_job
from controlplane.structs import (
    Job,
    ReschedulePolicy,
    RestartPolicy,
    Service,
    ServiceCheck,
    Task,
    TaskGroup,
    UpdateStrategy,
)

SEC = 1_000_000_000
MIN = 60 * SEC
HOUR = 60 * MIN


def _job(job_type: str = "") -> Job:
    """A job with every defaultable field left empty."""
    task = Task(name="t", driver="exec")
    return Job(
        id="j",
        type=job_type,
        priority=0,
        namespace="",
        region="",
        node_pool="",
        task_groups=[TaskGroup(name="g", tasks=[task])],
    )


def test_job_level_defaults() -> None:
    job = canonicalize(_job())
    assert (job.name, job.namespace, job.region, job.type, job.priority, job.node_pool) == (
        "j",
        "default",
        "global",
        "service",
        50,
        "default",
    )
    assert job.datacenters == ["*"]


def test_service_group_and_task_defaults() -> None:
    job = canonicalize(_job("service"))
    group = job.task_groups[0]
    assert group.count == 1
    assert group.restart_policy == RestartPolicy(
        attempts=2, interval=30 * MIN, delay=15 * SEC, mode="fail"
    )
    assert group.reschedule_policy == ReschedulePolicy(
        attempts=0,
        interval=0,
        delay=30 * SEC,
        delay_function="exponential",
        max_delay=HOUR,
        unlimited=True,
    )
    assert group.ephemeral_disk is not None and group.ephemeral_disk.size_mb == 300
    assert group.update == UpdateStrategy(
        stagger=30 * SEC,
        max_parallel=1,
        health_check="checks",
        min_healthy_time=10 * SEC,
        healthy_deadline=5 * MIN,
        progress_deadline=10 * MIN,
    )
    assert group.migrate is not None
    assert (group.migrate.max_parallel, group.migrate.health_check) == (1, "checks")
    assert (group.migrate.min_healthy_time, group.migrate.healthy_deadline) == (10 * SEC, 5 * MIN)
    task = group.tasks[0]
    assert task.resources is not None
    assert (task.resources.cpu, task.resources.memory_mb) == (100, 300)
    assert task.kill_timeout == 5 * SEC
    assert task.log_config is not None
    assert (task.log_config.max_files, task.log_config.max_file_size_mb) == (10, 10)
    assert task.restart_policy == group.restart_policy


@pytest.mark.parametrize("job_type", ["batch", "sysbatch"])
def test_batch_defaults(job_type: str) -> None:
    group = canonicalize(_job(job_type)).task_groups[0]
    assert group.restart_policy == RestartPolicy(
        attempts=3, interval=24 * HOUR, delay=15 * SEC, mode="fail"
    )
    assert group.update is None
    assert group.migrate is None
    if job_type == "batch":
        assert group.reschedule_policy == ReschedulePolicy(
            attempts=1, interval=24 * HOUR, delay=5 * SEC, delay_function="constant"
        )
    else:
        assert group.reschedule_policy is None


def test_system_job_gets_update_but_no_reschedule_or_migrate() -> None:
    group = canonicalize(_job("system")).task_groups[0]
    assert group.reschedule_policy is None
    assert group.migrate is None
    assert group.update is not None and group.update.max_parallel == 1


def test_services_and_checks_get_default_names_and_provider() -> None:
    check = ServiceCheck(type="tcp", interval=10 * SEC, timeout=2 * SEC)
    task = Task(name="t", driver="exec", services=[Service(checks=[check])])
    job = Job(id="web", task_groups=[TaskGroup(name="g", tasks=[task], services=[Service()])])
    group = canonicalize(job).task_groups[0]
    assert group.services is not None
    assert group.services[0].name == "web-g"
    svc = group.tasks[0].services
    assert svc is not None
    assert svc[0].name == "web-g-t"
    assert svc[0].provider == "consul"
    assert svc[0].checks is not None
    assert svc[0].checks[0].name == 'service: "web-g-t" check'


def test_job_update_merges_into_groups_group_values_win() -> None:
    job = parse_job(
        """
job "u" {
  update {
    max_parallel = 2
    canary       = 1
    auto_revert  = true
    min_healthy_time = "30s"
  }
  group "a" {
    count = 4
    update { max_parallel = 3 }
    task "t" { driver = "exec" }
  }
  group "b" {
    count = 4
    task "t" { driver = "exec" }
  }
}
"""
    )
    a, b = job.task_groups
    assert a.update is not None and b.update is not None
    assert (a.update.max_parallel, a.update.canary, a.update.auto_revert) == (3, 1, True)
    assert a.update.min_healthy_time == 30 * SEC
    assert a.update.healthy_deadline == 5 * MIN  # default fills what nobody set
    assert (b.update.max_parallel, b.update.canary) == (2, 1)
    # the job-level copy only keeps Stagger and MaxParallel
    assert job.update == UpdateStrategy(stagger=30 * SEC, max_parallel=2)


def test_partial_restart_block_keeps_explicit_zero_and_fills_the_rest() -> None:
    job = parse_job(
        """
job "r" {
  type = "batch"
  group "g" {
    restart { attempts = 0 }
    task "t" {
      driver = "exec"
      restart { delay = "1s" }
    }
  }
}
"""
    )
    group = job.task_groups[0]
    assert group.restart_policy == RestartPolicy(
        attempts=0, interval=24 * HOUR, delay=15 * SEC, mode="fail"
    )
    assert group.tasks[0].restart_policy == RestartPolicy(
        attempts=0, interval=24 * HOUR, delay=1 * SEC, mode="fail"
    )


def test_cores_only_leaves_cpu_zero() -> None:
    job = parse_job('job "c" {\n task "t" {\n driver = "exec"\n resources { cores = 2 }\n }\n}\n')
    res = job.task_groups[0].tasks[0].resources
    assert res is not None
    assert (res.cpu, res.cores, res.memory_mb) == (0, 2, 300)


@pytest.mark.parametrize("job_type", ["service", "batch", "system", "sysbatch", ""])
def test_canonicalize_is_idempotent(job_type: str) -> None:
    once = canonicalize(_job(job_type))
    assert canonicalize(once) == once


def test_canonicalize_is_idempotent_on_a_parsed_job_with_job_level_update() -> None:
    job = parse_job(
        'job "u" {\n update { max_parallel = 2 }\n group "g" {\n count = 3\n'
        ' task "t" { driver = "exec" }\n }\n}\n'
    )
    assert canonicalize(job) == job
