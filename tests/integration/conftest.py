"""Fixtures that start real agents: pysyncobj, HTTP on loopback, real drivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controlplane.agent.agent import Agent
from controlplane.agent.config import AgentConfig


@pytest.fixture(scope="module")
def dev_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """An in-process dev agent (server + client) on free loopback ports."""
    data_dir: Path = tmp_path_factory.mktemp("dev-agent")
    agent = Agent(
        AgentConfig(
            dev=True, http_port=0, rpc_port=0, data_dir=str(data_dir), node_name="test-node"
        )
    )
    agent.start()
    try:
        assert agent.wait_ready(30), "dev agent did not become ready"
        yield agent
    finally:
        agent.shutdown()


@pytest.fixture(scope="module")
def api(dev_agent: Agent) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{dev_agent.config.http_addr}", timeout=30) as c:
        yield c
