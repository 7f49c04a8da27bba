"""The `nomad job init` example job of the seed (group "cache", task "redis"),
as the server stores it, with knobs for the edits the diff tests make."""

from __future__ import annotations

from typing import Any

from controlplane.structs import (
    SEC,
    EphemeralDisk,
    Job,
    LogConfig,
    NetworkResource,
    Port,
    Resources,
    RestartPolicy,
    Service,
    ServiceCheck,
    Task,
    TaskGroup,
)


def redis_task(image: str = "redis:3.2", **changes: Any) -> Task:
    task = Task(
        name="redis",
        driver="docker",
        config={"image": image, "port_map": [{"db": 6379}]},
        resources=Resources(
            cpu=500,
            memory_mb=256,
            networks=[NetworkResource(mbits=10, dynamic_ports=[Port(label="db")])],
        ),
        services=[
            Service(
                name="redis-cache",
                tags=["global", "cache"],
                port_label="db",
                checks=[ServiceCheck(name="alive", type="tcp", interval=10 * SEC, timeout=2 * SEC)],
            )
        ],
        log_config=LogConfig(max_files=10, max_file_size_mb=10),
        kill_timeout=5 * SEC,
    )
    return task.replace(**changes)


def cache_group(count: int = 1, tasks: list[Task] | None = None, **changes: Any) -> TaskGroup:
    group = TaskGroup(
        name="cache",
        count=count,
        tasks=tasks if tasks is not None else [redis_task()],
        restart_policy=RestartPolicy(
            attempts=2, interval=30 * 60 * SEC, delay=15 * SEC, mode="fail"
        ),
        ephemeral_disk=EphemeralDisk(size_mb=300),
    )
    return group.replace(**changes)


def example_job(groups: list[TaskGroup] | None = None, **changes: Any) -> Job:
    job = Job(
        id="example",
        name="example",
        datacenters=["dc1"],
        task_groups=groups if groups is not None else [cache_group()],
        status="running",
        version=0,
        submit_time=1_592_764_587_000_000_000,
        create_index=7,
        modify_index=9,
        job_modify_index=7,
    )
    return job.replace(**changes)
