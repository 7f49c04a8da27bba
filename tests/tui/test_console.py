"""The console against a real dev agent (Textual Pilot), and against no agent."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from controlplane.agent.agent import Agent, start_dev_agent
from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    a = start_dev_agent()
    try:
        yield a
    finally:
        a.shutdown()


async def _settle(pilot: Pilot[None], cond: Callable[[], bool], tries: int = 200) -> None:
    """Let the app run until `cond` holds (refreshes happen in a worker thread)."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("console did not show the expected state")


async def test_console_lists_jobs_and_nodes(agent: Agent) -> None:
    address = f"http://{agent.config.http_addr}"
    body = {"Job": {"ID": "tui-job", "TaskGroups": [{"Name": "g", "Count": 0, "Tasks": [
        {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}}
    assert httpx.put(f"{address}/v1/jobs", json=body).status_code == 200
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        jobs = app.query_one("#jobs", DataTable)
        nodes = app.query_one("#nodes", DataTable)
        await _settle(pilot, lambda: jobs.row_count == 1 and nodes.row_count == 1)
        assert jobs.get_row_at(0)[0] == "tui-job"
        assert nodes.get_row_at(0)[4] == "ready"
        status = app.query_one("#status", Static)
        assert "1 jobs, 1 nodes" in str(status.render())
        await pilot.press("q")
    client.close()


async def test_console_says_when_no_agent_answers() -> None:
    client = NomadClient(address="http://127.0.0.1:1")
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one("#status", Static)
        await _settle(pilot, lambda: status.has_class("error"))
        text = str(status.render())
        assert "cannot reach http://127.0.0.1:1" in text and "retrying" in text
    client.close()
