"""allocs_fit (shared with the plan applier) and port offers."""

from __future__ import annotations

import random

import pytest
from sched_harness import group, node, ports, task

from controlplane.scheduler import allocs_fit
from controlplane.scheduler.fit import (
    PORT_COLLISION,
    alloc_host_ports,
    fit_group,
    offer_resources,
    reserved_host_ports,
)
from controlplane.structs import (
    AllocatedCpu,
    AllocatedMemory,
    AllocatedPortMapping,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    Allocation,
    NetworkResource,
    Port,
)


def alloc(
    alloc_id: str,
    *,
    cpu: int = 1000,
    mem: int = 1024,
    disk: int = 1000,
    host_ports: tuple[int, ...] = (),
    desired: str = "run",
    client: str = "running",
) -> Allocation:
    return Allocation(
        id=alloc_id,
        node_id="n1",
        desired_status=desired,
        client_status=client,
        allocated_resources=AllocatedResources(
            tasks={
                "app": AllocatedTaskResources(
                    cpu=AllocatedCpu(cpu_shares=cpu), memory=AllocatedMemory(memory_mb=mem)
                )
            },
            shared=AllocatedSharedResources(
                disk_mb=disk,
                ports=[AllocatedPortMapping(label=f"p{p}", value=p) for p in host_ports] or None,
            ),
        ),
    )


N = node("n1", cpu=4000, mem=4096, disk=4000, reserved_cpu=500, reserved_mem=96)


def test_allocs_fit_when_everything_fits() -> None:
    assert allocs_fit(N, [alloc("a", cpu=1750), alloc("b", cpu=1750)]) == (True, "")


@pytest.mark.parametrize(
    ("allocs", "dimension"),
    [
        # 3500 MHz usable (4000 - 500 reserved)
        ([alloc("a", cpu=2000), alloc("b", cpu=1501)], "cpu"),
        # 4000 MB usable (4096 - 96 reserved)
        ([alloc("a", mem=2000), alloc("b", mem=2001)], "memory"),
        ([alloc("a", disk=2500), alloc("b", disk=1501)], "disk"),
        ([alloc("a", host_ports=(8080,)), alloc("b", host_ports=(8080,))], PORT_COLLISION),
    ],
)
def test_allocs_fit_reports_the_exhausted_dimension(
    allocs: list[Allocation], dimension: str
) -> None:
    assert allocs_fit(N, allocs) == (False, dimension)


def test_allocs_fit_ignores_terminal_allocs() -> None:
    allocs = [
        alloc("a", cpu=3000, host_ports=(8080,)),
        alloc("b", cpu=3000, host_ports=(8080,), desired="stop"),
        alloc("c", cpu=3000, host_ports=(8080,), client="complete"),
    ]
    assert allocs_fit(N, allocs) == (True, "")


def test_allocs_fit_checks_node_reserved_ports() -> None:
    n = node("n1", reserved_ports="22,8000-8010")
    assert reserved_host_ports(n) == {22, *range(8000, 8011)}
    assert allocs_fit(n, [alloc("a", host_ports=(8005,))]) == (False, PORT_COLLISION)
    assert allocs_fit(n, [alloc("a", host_ports=(8011,))]) == (True, "")


def test_legacy_task_network_ports_count_as_used() -> None:
    legacy = Allocation(
        id="legacy",
        allocated_resources=AllocatedResources(
            tasks={
                "app": AllocatedTaskResources(
                    networks=[NetworkResource(dynamic_ports=[Port(label="db", value=23456)])]
                )
            }
        ),
    )
    assert alloc_host_ports(legacy) == {23456}
    assert allocs_fit(N, [legacy, alloc("b", cpu=10, host_ports=(23456,))]) == (
        False,
        PORT_COLLISION,
    )


def test_offer_assigns_static_and_distinct_dynamic_ports_in_range() -> None:
    n = node("n1", min_port=30000, max_port=30009)
    tg = group(networks=[ports(static={"http": 8080}, dynamic=["a", "b", "c", "d"])])
    offer = offer_resources(n, tg, {30000, 30001}, random.Random(1))
    assert not isinstance(offer, str)
    by_label = {p.label: p for p in offer.shared.ports or ()}
    assert by_label["http"].value == 8080
    dynamic = [by_label[label].value for label in "abcd"]
    assert len(set(dynamic)) == 4
    assert all(30002 <= v <= 30009 for v in dynamic)
    assert {p.host_ip for p in by_label.values()} == {"10.0.0.1"}
    # The group network records the assigned values too.
    (net,) = offer.shared.networks or ()
    assert sorted(p.value for p in net.dynamic_ports or ()) == sorted(dynamic)


def test_offer_fails_on_static_collision_and_when_dynamic_range_is_full() -> None:
    n = node("n1", min_port=30000, max_port=30001)
    static = group(networks=[ports(static={"http": 80})])
    assert offer_resources(n, static, {80}, random.Random(1)) == PORT_COLLISION
    full = offer_resources(
        n, group(networks=[ports(dynamic=["a", "b", "c"])]), set(), random.Random(1)
    )
    assert full == "network: dynamic port selection failed"


def test_offer_port_to_mapping_modern_and_legacy() -> None:
    modern = NetworkResource(
        dynamic_ports=[Port(label="db", to=6379), Port(label="same", to=-1), Port(label="raw")]
    )
    legacy_task = task(
        "redis",
        config={"image": "redis", "port_map": [{"cache": 6379}]},
        networks=[NetworkResource(dynamic_ports=[Port(label="cache")])],
    )
    tg = group(tasks=[legacy_task], networks=[modern])
    offer = offer_resources(node("n1"), tg, set(), random.Random(3))
    assert not isinstance(offer, str)
    by_label = {p.label: p for p in offer.shared.ports or ()}
    assert by_label["db"].to == 6379
    assert by_label["same"].to == by_label["same"].value  # -1 means "same as host port"
    assert by_label["raw"].to == 0
    assert by_label["cache"].to == 6379  # from the docker port_map
    # Legacy ports are also recorded on the task's networks.
    (task_net,) = offer.tasks["redis"].networks or ()
    assert (task_net.dynamic_ports or [])[0].value == by_label["cache"].value


def test_offer_records_task_resources_and_disk() -> None:
    tg = group(tasks=[task("a", cpu=300, mem=128), task("b", cpu=200, mem=64)], disk=500)
    offer = offer_resources(node("n1"), tg, set(), random.Random(0))
    assert not isinstance(offer, str)
    assert offer.tasks["a"].cpu.cpu_shares == 300
    assert offer.tasks["b"].memory.memory_mb == 64
    assert offer.shared.disk_mb == 500


def test_fit_group_counts_existing_allocs() -> None:
    tg = group(tasks=[task(cpu=1000, mem=100)])
    assert not isinstance(fit_group(N, [alloc("a", cpu=2500)], tg, random.Random(0)), str)
    assert fit_group(N, [alloc("a", cpu=2501)], tg, random.Random(0)) == "cpu"
