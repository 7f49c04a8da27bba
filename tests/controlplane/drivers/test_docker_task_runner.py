"""The task runner with the real docker driver: a failed image pull counts
against the restart policy, as in Nomad."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from controlplane.client.allocdir import AllocDir
from controlplane.client.task_runner import TaskRunner
from controlplane.drivers.docker import DockerDriver
from controlplane.structs import (
    SEC,
    AllocatedResources,
    AllocatedSharedResources,
    Allocation,
    Job,
    Node,
    RestartPolicy,
    Task,
    TaskGroup,
)
from tests.controlplane.drivers.docker_harness import tracked_driver

pytestmark = pytest.mark.docker


@pytest.fixture
def driver(docker_engine: docker.DockerClient) -> Iterator[DockerDriver]:
    with tracked_driver(docker_engine) as drv:
        yield drv


def allocation(image: str, restart: RestartPolicy) -> Allocation:
    task = Task(name="web", driver="docker", config={"image": image}, kill_timeout=SEC)
    job = Job(
        id="pull",
        name="pull",
        type="service",
        datacenters=["dc1"],
        task_groups=[TaskGroup(name="web", tasks=[task], restart_policy=restart)],
    )
    return Allocation(
        id=str(uuid.uuid4()),
        name="pull.web[0]",
        node_id="node-1",
        job_id="pull",
        job=job,
        task_group="web",
        allocated_resources=AllocatedResources(shared=AllocatedSharedResources()),
    )


def test_missing_image_uses_up_the_restart_policy(driver: DockerDriver, tmp_path: Path) -> None:
    image = "127.0.0.1:1/missing:1"  # no registry there: the pull fails at once
    alloc = allocation(image, RestartPolicy(attempts=1, interval=60 * SEC, delay=0, mode="fail"))
    runner = TaskRunner(
        alloc=alloc,
        task=alloc.job.task_groups[0].tasks[0],  # type: ignore[union-attr]
        driver=driver,
        alloc_dir=AllocDir(tmp_path, alloc.id),
        node=Node(id="node-1", name="node-1", datacenter="dc1"),
        on_change=lambda _task: None,
        poll_s=0.02,
    )
    runner.start()
    assert runner.wait(60), "the task runner did not finish"

    state = runner.state
    assert state.state == "dead" and state.failed
    events = [(e.type, e) for e in state.events or []]
    failures = [e for t, e in events if t == "Driver Failure"]
    assert len(failures) == 2  # the first start and its one restart
    # Nomad's `Driver` event says what the driver was doing before each failure
    pulls = [e for t, e in events if t == "Driver"]
    assert [e.driver_message for e in pulls] == ["Downloading image"] * 2
    assert [t for t, _ in events if t in ("Driver", "Driver Failure")] == [
        "Driver",
        "Driver Failure",
    ] * 2
    for failure in failures:
        assert failure.driver_error.startswith(f"Failed to pull `{image}`: ")
        assert failure.display_message == failure.driver_error
        assert not failure.fails_task  # recoverable: the policy decides
    assert [t for t, _ in events if t in ("Restarting", "Not Restarting")] == [
        "Restarting",
        "Not Restarting",
    ]
    last = events[-1][1]
    assert last.type == "Not Restarting" and last.fails_task
    assert last.restart_reason == 'Exceeded allowed attempts 1 in interval 1m0s and mode is "fail"'
    assert state.restarts == 1
