"""Fixtures for client agent tests: an in-memory ServerRPC, allocation
builders and an agent factory that always shuts its agents down."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.client.agent import ClientAgent
from controlplane.client.config import ClientConfig
from controlplane.drivers.base import Driver
from controlplane.drivers.mock import MockDriver
from controlplane.structs import (
    SEC,
    AllocatedPortMapping,
    AllocatedResources,
    AllocatedSharedResources,
    Allocation,
    AllocClientUpdate,
    Job,
    Node,
    RestartPolicy,
    ServiceRegistration,
    Task,
    TaskGroup,
    UpdateStrategy,
)

DEADLINE_S = 10.0


class FakeServerRPC:
    """Thread-safe stand-in for the servers: stores nodes and allocations,
    answers the alloc blocking query, records every call."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.cond = threading.Condition()
        self.ttl = ttl
        self.index = 1
        self.nodes: dict[str, Node] = {}
        self.allocs: dict[str, Allocation] = {}
        self.heartbeats: list[tuple[str, str]] = []
        self.update_calls: list[list[AllocClientUpdate]] = []
        self.register_calls = 0
        self.fail_registrations = 0  # fail this many register_node calls first
        self.fail_updates = 0  # fail this many update_allocs calls first
        self.closed = False
        # the service catalog: id -> registration, and every call in order
        self.services: dict[str, ServiceRegistration] = {}
        self.service_calls: list[tuple[list[ServiceRegistration], list[str]]] = []
        self.fail_services = 0  # fail this many update_services calls first
        # called (under the lock) with each accepted update_services call
        self.on_services: Callable[[list[ServiceRegistration], list[str]], None] | None = None

    # ---- ServerRPC ---------------------------------------------------

    def register_node(self, node: Node) -> float:
        with self.cond:
            self.register_calls += 1
            if self.fail_registrations > 0:
                self.fail_registrations -= 1
                raise ConnectionError("server unavailable")
            self.nodes[node.id] = node
            self.cond.notify_all()
            return self.ttl

    def heartbeat(self, node_id: str, status: str) -> float:
        with self.cond:
            self.heartbeats.append((node_id, status))
            node = self.nodes.get(node_id)
            if node is not None:
                self.nodes[node_id] = node.replace(status=status)
            self.cond.notify_all()
            return self.ttl

    def get_allocs(
        self, node_id: str, min_index: int, wait_s: float
    ) -> tuple[list[Allocation], int]:
        with self.cond:
            self.cond.wait_for(lambda: self.index > min_index or self.closed, timeout=wait_s)
            return [a for a in self.allocs.values() if a.node_id == node_id], self.index

    def update_allocs(self, updates: list[AllocClientUpdate]) -> None:
        with self.cond:
            if self.fail_updates > 0:
                self.fail_updates -= 1
                raise ConnectionError("server unavailable")
            self.update_calls.append(list(updates))
            self.index += 1
            for upd in updates:
                alloc = self.allocs.get(upd.id)
                if alloc is not None:
                    self.allocs[upd.id] = alloc.replace(
                        client_status=upd.client_status,
                        client_description=upd.client_description,
                        task_states=upd.task_states,
                        # as the state store: a verdict sticks until replaced
                        deployment_status=upd.deployment_status or alloc.deployment_status,
                        modify_index=self.index,
                    )
            self.cond.notify_all()

    def update_services(self, upserts: list[ServiceRegistration], delete_ids: list[str]) -> None:
        with self.cond:
            if self.fail_services > 0:
                self.fail_services -= 1
                raise ConnectionError("server unavailable")
            self.service_calls.append((list(upserts), list(delete_ids)))
            if self.on_services is not None:
                self.on_services(upserts, delete_ids)
            for reg in upserts:
                self.services[reg.id] = reg
            for rid in delete_ids:
                self.services.pop(rid, None)
            self.cond.notify_all()

    # ---- test controls ---------------------------------------------

    def push_alloc(self, alloc: Allocation) -> Allocation:
        with self.cond:
            self.index += 1
            alloc = alloc.replace(
                create_index=alloc.create_index or self.index, modify_index=self.index
            )
            self.allocs[alloc.id] = alloc
            self.cond.notify_all()
            return alloc

    def stop_alloc(self, alloc_id: str) -> None:
        with self.cond:
            self.index += 1
            self.allocs[alloc_id] = self.allocs[alloc_id].replace(
                desired_status="stop", modify_index=self.index
            )
            self.cond.notify_all()

    def remove_alloc(self, alloc_id: str) -> None:
        with self.cond:
            self.index += 1
            del self.allocs[alloc_id]
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_for(self, pred: Callable[[], Any], timeout: float = DEADLINE_S) -> Any:
        """Wait until `pred()` (run under the lock) is truthy; fail at the deadline."""
        with self.cond:
            ok = self.cond.wait_for(pred, timeout=timeout)
        assert ok, "condition not reached before the deadline"
        return ok

    def updates_for(self, alloc_id: str) -> list[AllocClientUpdate]:
        with self.cond:
            return [u for call in self.update_calls for u in call if u.id == alloc_id]

    def last_update(self, alloc_id: str) -> AllocClientUpdate | None:
        ups = self.updates_for(alloc_id)
        return ups[-1] if ups else None

    def wait_status(self, alloc_id: str, status: str, timeout: float = DEADLINE_S) -> Allocation:
        """Wait until the alloc's reported client status is `status`."""

        def reached() -> bool:
            a = self.allocs.get(alloc_id)
            return a is not None and a.client_status == status

        self.wait_for(reached, timeout)
        return self.allocs[alloc_id]


def make_alloc(
    node_id: str,
    *,
    job_type: str = "service",
    tasks: dict[str, dict[str, Any]] | None = None,
    driver: str = "mock",
    restart: RestartPolicy | None = None,
    ports: list[AllocatedPortMapping] | None = None,
    job_id: str = "example",
    group: str = "web",
    index: int = 0,
    update: UpdateStrategy | None = None,
    task_fields: dict[str, dict[str, Any]] | None = None,
    group_fields: dict[str, Any] | None = None,
) -> Allocation:
    """One allocation of a one-group job; `tasks` maps task name -> driver config,
    `task_fields` task name -> more Task fields (lifecycle, leader, ...), and
    `group_fields` more TaskGroup fields."""
    tasks = tasks if tasks is not None else {"server": {"run_for": 60}}
    task_fields = task_fields or {}
    job = Job(
        id=job_id,
        name=job_id,
        type=job_type,
        datacenters=["dc1"],
        task_groups=[
            TaskGroup(
                name=group,
                tasks=[
                    Task(
                        name=name,
                        driver=driver,
                        config=cfg,
                        **{"kill_timeout": 2 * SEC, **task_fields.get(name, {})},
                    )
                    for name, cfg in tasks.items()
                ],
                restart_policy=restart
                or RestartPolicy(attempts=0, interval=60 * SEC, delay=0, mode="fail"),
                update=update,
                **(group_fields or {}),
            )
        ],
    )
    return Allocation(
        id=str(uuid.uuid4()),
        eval_id=str(uuid.uuid4()),
        name=f"{job_id}.{group}[{index}]",
        node_id=node_id,
        job_id=job_id,
        job=job,
        task_group=group,
        allocated_resources=AllocatedResources(shared=AllocatedSharedResources(ports=ports or [])),
    )


@pytest.fixture
def new_alloc() -> Callable[..., Allocation]:
    """The `make_alloc` builder (test modules cannot import conftest)."""
    return make_alloc


@pytest.fixture
def rpc() -> Iterator[FakeServerRPC]:
    fake = FakeServerRPC()
    yield fake
    fake.close()


AgentFactory = Callable[..., ClientAgent]


@pytest.fixture
def make_agent(tmp_path: Path, rpc: FakeServerRPC) -> Iterator[AgentFactory]:
    agents: list[ClientAgent] = []

    def factory(drivers: dict[str, Driver] | None = None, **overrides: Any) -> ClientAgent:
        cfg = ClientConfig(
            data_dir=overrides.pop("data_dir", tmp_path / "data"),
            node_name="test-node",
            alloc_watch_wait_s=0.5,
            alloc_update_interval_s=0.05,
            **overrides,
        )
        agent = ClientAgent(cfg, rpc, drivers if drivers is not None else {"mock": MockDriver()})
        agents.append(agent)
        agent.start()
        assert agent.wait_registered(DEADLINE_S)
        return agent

    yield factory
    rpc.close()
    for agent in agents:
        agent.shutdown(kill_tasks=True, timeout=10.0)
