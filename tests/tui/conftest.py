"""The real dev agent the console tests that need one drive (one per module),
and its HTTP address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane.agent.agent import Agent, start_dev_agent


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    a = start_dev_agent()
    try:
        yield a
    finally:
        a.shutdown()


@pytest.fixture(scope="module")
def address(agent: Agent) -> str:
    return f"http://{agent.config.http_addr}"
