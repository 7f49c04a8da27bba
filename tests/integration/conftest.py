"""Fixtures that start real agents: pysyncobj, HTTP on loopback, real drivers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from controlplane.agent.agent import Agent
from tests.agents import AgentProcess, in_process_agent


@pytest.fixture(scope="module")
def dev_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """An in-process dev agent (server + client) on free loopback ports."""
    data_dir = str(tmp_path_factory.mktemp("dev-agent"))
    with in_process_agent(data_dir=data_dir, node_name="test-node") as agent:
        yield agent


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """Like dev_agent, with ACLs enforced (nothing bootstrapped yet)."""
    data_dir = str(tmp_path_factory.mktemp("acl-agent"))
    with in_process_agent(data_dir=data_dir, node_name="acl-node", acl_enabled=True) as agent:
        yield agent


@pytest.fixture(scope="module")
def api(dev_agent: Agent) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{dev_agent.config.http_addr}", timeout=30) as c:
        yield c


@pytest.fixture
def procs() -> Iterator[list[AgentProcess]]:
    """Agent processes a test starts; each is killed after the test."""
    started: list[AgentProcess] = []
    yield started
    for p in started:
        p.kill()
