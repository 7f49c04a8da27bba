"""NOMAD_* environment and ${...} interpolation."""

from __future__ import annotations

from collections.abc import Callable

from controlplane.client.taskenv import TaskDirs, build_task_env, interpolate, sanitize
from controlplane.structs import (
    AllocatedCpu,
    AllocatedMemory,
    AllocatedPortMapping,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    Allocation,
    NetworkResource,
    Node,
    Port,
    Task,
)

NewAlloc = Callable[..., Allocation]

NODE = Node(
    id="node-1234",
    name="worker-1",
    datacenter="dc2",
    node_class="big",
    attributes={"kernel.name": "linux", "unique.network.ip-address": "10.0.0.5"},
    meta={"rack": "r7"},
)
DIRS = TaskDirs(alloc_dir="/d/alloc", task_dir="/d/web/local", secrets_dir="/d/web/secrets")


def first_task(alloc: Allocation) -> Task:
    assert alloc.job is not None
    return alloc.job.task_groups[0].tasks[0]


def with_meta(alloc: Allocation) -> Allocation:
    assert alloc.job is not None
    tg = alloc.job.task_groups[0]
    task = tg.tasks[0].replace(
        meta={"owner": "ops", "Color": "task"},
        env={
            "GREETING": "hi ${NOMAD_TASK_NAME} on ${attr.kernel.name}",
            "UPSTREAM": "${NOMAD_ADDR_http}",
        },
    )
    tg = tg.replace(tasks=[task], meta={"color": "group", "tier": "web"})
    job = alloc.job.replace(meta={"color": "job", "team": "core"}, task_groups=[tg])
    return alloc.replace(job=job)


def test_core_variables(new_alloc: NewAlloc) -> None:
    alloc = new_alloc("node-1234", job_id="shop", group="cache", index=3)
    task = first_task(alloc)
    alloc = alloc.replace(
        allocated_resources=AllocatedResources(
            tasks={
                task.name: AllocatedTaskResources(
                    cpu=AllocatedCpu(cpu_shares=500),
                    memory=AllocatedMemory(memory_mb=256, memory_max_mb=512),
                )
            }
        )
    )
    env = build_task_env(alloc, task, NODE, DIRS)

    assert env["NOMAD_ALLOC_DIR"] == "/d/alloc"
    assert env["NOMAD_TASK_DIR"] == "/d/web/local"
    assert env["NOMAD_SECRETS_DIR"] == "/d/web/secrets"
    assert env["NOMAD_ALLOC_ID"] == alloc.id
    assert env["NOMAD_SHORT_ALLOC_ID"] == alloc.id[:8]
    assert env["NOMAD_ALLOC_NAME"] == "shop.cache[3]"
    assert env["NOMAD_ALLOC_INDEX"] == "3"
    assert env["NOMAD_TASK_NAME"] == task.name
    assert env["NOMAD_GROUP_NAME"] == "cache"
    assert env["NOMAD_JOB_ID"] == "shop"
    assert env["NOMAD_JOB_NAME"] == "shop"
    assert env["NOMAD_JOB_PARENT_ID"] == ""
    assert env["NOMAD_DC"] == "dc2"
    assert env["NOMAD_NAMESPACE"] == "default"
    assert env["NOMAD_REGION"] == "global"
    assert env["NOMAD_CPU_LIMIT"] == "500"
    assert env["NOMAD_MEMORY_LIMIT"] == "256"
    assert env["NOMAD_MEMORY_MAX_LIMIT"] == "512"


def test_meta_merged_as_written_and_upper_case(new_alloc: NewAlloc) -> None:
    alloc = with_meta(new_alloc("n"))
    env = build_task_env(alloc, first_task(alloc), NODE, DIRS)

    assert env["NOMAD_META_team"] == "core"
    assert env["NOMAD_META_TEAM"] == "core"
    assert env["NOMAD_META_tier"] == "web"
    assert env["NOMAD_META_color"] == "group"  # group overrides job
    assert env["NOMAD_META_COLOR"] == "task"  # task's "Color" upper-cases onto it
    assert env["NOMAD_META_owner"] == "ops"


def test_modern_ports(new_alloc: NewAlloc) -> None:
    ports = [
        AllocatedPortMapping(label="http", value=25000, to=8080, host_ip="10.0.0.5"),
        AllocatedPortMapping(label="admin-ui", value=25001, to=0, host_ip=""),
        AllocatedPortMapping(label="same", value=25002, to=-1, host_ip="10.0.0.5"),
    ]
    alloc = new_alloc("n", ports=ports)
    env = build_task_env(alloc, first_task(alloc), NODE, DIRS)

    assert env["NOMAD_PORT_http"] == "8080"
    assert env["NOMAD_HOST_PORT_http"] == "25000"
    assert env["NOMAD_IP_http"] == "10.0.0.5"
    assert env["NOMAD_ADDR_http"] == "10.0.0.5:25000"
    # no `to`: the host port; label sanitised; IP from the node when unset
    assert env["NOMAD_PORT_admin_ui"] == "25001"
    assert env["NOMAD_ADDR_admin_ui"] == "10.0.0.5:25001"
    assert env["NOMAD_PORT_same"] == "25002"


def test_legacy_port_map(new_alloc: NewAlloc) -> None:
    alloc = new_alloc("n", tasks={"redis": {"image": "redis", "port_map": [{"db": 6379}]}})
    task = first_task(alloc)
    net = NetworkResource(ip="10.0.0.9", dynamic_ports=[Port(label="db", value=21000)])
    alloc = alloc.replace(
        allocated_resources=AllocatedResources(
            tasks={"redis": AllocatedTaskResources(networks=[net])},
            shared=AllocatedSharedResources(),
        )
    )
    env = build_task_env(alloc, task, NODE, DIRS)

    assert env["NOMAD_PORT_db"] == "6379"
    assert env["NOMAD_HOST_PORT_db"] == "21000"
    assert env["NOMAD_ADDR_db"] == "10.0.0.9:21000"


def test_task_env_block_is_interpolated(new_alloc: NewAlloc) -> None:
    ports = [AllocatedPortMapping(label="http", value=25000, to=0, host_ip="10.0.0.5")]
    alloc = with_meta(new_alloc("n", ports=ports))
    env = build_task_env(alloc, first_task(alloc), NODE, DIRS)

    assert env["GREETING"] == "hi server on linux"
    assert env["UPSTREAM"] == "10.0.0.5:25000"


def test_interpolate_references_recursively() -> None:
    env = {"NOMAD_PORT_http": "8080", "HOME": "/root"}
    value = {
        "args": ["-p", "${NOMAD_PORT_http}", "${env.HOME}/x"],
        "nested": {"dc": "${node.datacenter}", "deep": [{"k": "${attr.kernel.name}"}]},
        "labels": "${node.unique.id}/${node.unique.name}/${node.class}/${node.region}",
        "rack": "${meta.rack}",
        "count": 3,
        "unknown": "${NOMAD_NOPE} and ${attr.nope} and ${foo",
    }
    out = interpolate(value, env, NODE, region="eu")

    assert out["args"] == ["-p", "8080", "/root/x"]
    assert out["nested"] == {"dc": "dc2", "deep": [{"k": "linux"}]}
    assert out["labels"] == "node-1234/worker-1/big/eu"
    assert out["rack"] == "r7"
    assert out["count"] == 3
    assert out["unknown"] == "${NOMAD_NOPE} and ${attr.nope} and ${foo"


def test_interpolation_is_single_pass() -> None:
    env = {"A": "${B}", "B": "b"}
    assert interpolate("${A}", env, NODE) == "${B}"


def test_sanitize() -> None:
    assert sanitize("admin-ui.v2") == "admin_ui_v2"
