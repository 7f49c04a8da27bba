"""build_task_config: task directories as the task sees them, per driver."""

from __future__ import annotations

from pathlib import Path

from controlplane.client.allocdir import AllocDir
from controlplane.client.task_config import build_task_config
from controlplane.structs import Allocation, Job, Node, Task, TaskGroup


def _config(driver: str, tmp_path: Path) -> tuple[dict[str, str], list[str], AllocDir]:
    task = Task(
        name="web",
        driver=driver,
        config={"command": "/bin/sh", "args": ["${NOMAD_TASK_DIR}/run.sh", "${NOMAD_ALLOC_DIR}"]},
    )
    job = Job(id="j", name="j", task_groups=[TaskGroup(name="g", count=1, tasks=[task])])
    alloc = Allocation(id="a1", job_id="j", task_group="g", job=job, node_id="n1")
    ad = AllocDir(tmp_path, alloc.id)
    cfg = build_task_config(alloc, task, Node(id="n1", name="n1"), ad)
    return cfg.env, cfg.config["args"], ad


def test_docker_tasks_see_container_paths(tmp_path: Path) -> None:
    env, args, _ = _config("docker", tmp_path)
    assert args == ["/local/run.sh", "/alloc"]
    assert (env["NOMAD_TASK_DIR"], env["NOMAD_ALLOC_DIR"], env["NOMAD_SECRETS_DIR"]) == (
        "/local",
        "/alloc",
        "/secrets",
    )


def test_host_drivers_see_host_paths(tmp_path: Path) -> None:
    env, args, ad = _config("raw_exec", tmp_path)
    assert args == [f"{ad.local_dir('web')}/run.sh", str(ad.shared_dir)]
    assert env["NOMAD_TASK_DIR"] == str(ad.local_dir("web"))
