"""tasks_updated: which job changes force new allocations."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sched_harness import group, job, ports, task

from controlplane.scheduler.update import tasks_updated
from controlplane.structs import (
    Constraint,
    EphemeralDisk,
    Job,
    LogConfig,
    RestartPolicy,
    Service,
    TaskGroup,
)

BASE = job(groups=[group(tasks=[task()])])


def edit_task(**changes: object) -> Callable[[Job], Job]:
    def apply(j: Job) -> Job:
        tg = j.task_groups[0]
        return j.replace(task_groups=[tg.replace(tasks=[tg.tasks[0].replace(**changes)])])

    return apply


def edit_group(**changes: object) -> Callable[[Job], Job]:
    def apply(j: Job) -> Job:
        return j.replace(task_groups=[j.task_groups[0].replace(**changes)])

    return apply


def edit_resources(**changes: object) -> Callable[[Job], Job]:
    def apply(j: Job) -> Job:
        t = j.task_groups[0].tasks[0]
        assert t.resources is not None
        return edit_task(resources=t.resources.replace(**changes))(j)

    return apply


DESTRUCTIVE = {
    "driver": edit_task(driver="exec"),
    "user": edit_task(user="nobody"),
    "config": edit_task(config={"image": "busybox:2"}),
    "env": edit_task(env={"A": "1"}),
    "task meta": edit_task(meta={"k": "v"}),
    "job meta": lambda j: j.replace(meta={"k": "v"}),
    "group meta": edit_group(meta={"k": "v"}),
    "artifacts": edit_task(artifacts=[{"GetterSource": "https://x/y.tgz"}]),
    "templates": edit_task(templates=[{"EmbeddedTmpl": "hi", "DestPath": "local/x"}]),
    "cpu": edit_resources(cpu=501),
    "memory": edit_resources(memory_mb=512),
    "memory max": edit_resources(memory_max_mb=1024),
    "task network": edit_resources(networks=[ports(dynamic=["x"])]),
    "group network": edit_group(networks=[ports(static={"http": 80})]),
    "ephemeral disk": edit_group(ephemeral_disk=EphemeralDisk(size_mb=500)),
    "logs disabled": edit_task(log_config=LogConfig(disabled=True)),
    "render templates": edit_group(restart_policy=RestartPolicy(render_templates=True)),
    "task added": edit_group(tasks=[task(), task("sidecar")]),
    "task renamed": edit_group(tasks=[task("other")]),
}

IN_PLACE = {
    "count": edit_group(count=5),
    "kill timeout": edit_task(kill_timeout=1),
    "task constraint": edit_task(constraints=[Constraint(l_target="${attr.a}", r_target="b")]),
    "group constraint": edit_group(constraints=[Constraint(l_target="${attr.a}", r_target="b")]),
    "services": edit_task(services=[Service(name="web", port_label="http")]),
    "log rotation": edit_task(log_config=LogConfig(max_files=3)),
    "restart attempts": edit_group(restart_policy=RestartPolicy(attempts=9)),
    "priority": lambda j: j.replace(priority=90),
    "datacenters": lambda j: j.replace(datacenters=["dc2"]),
}


def classify(change: Callable[[Job], Job]) -> bool:
    new = change(BASE)
    old_tg: TaskGroup = BASE.task_groups[0]
    return tasks_updated(BASE, old_tg, new, new.task_groups[0])


@pytest.mark.parametrize("name", sorted(DESTRUCTIVE))
def test_destructive_changes(name: str) -> None:
    assert classify(DESTRUCTIVE[name]) is True


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_changes(name: str) -> None:
    assert classify(IN_PLACE[name]) is False


def test_none_and_empty_containers_are_the_same() -> None:
    assert classify(edit_task(env={})) is False
