"""The console against a real dev agent (Textual Pilot), and against no agent."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from textual.command import CommandList
from textual.pilot import Pilot

from controlplane.agent.agent import Agent
from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.screens.base import ContextBar
from nomadtui.tui.widgets.resource_table import ResourceTable


async def settle(pilot: Pilot[None], cond: Callable[[], bool], tries: int = 200) -> None:
    """Let the app run until `cond` holds (data arrives from watch threads)."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("console did not show the expected state")


def _register(address: str, job_id: str) -> None:
    body = {"Job": {"ID": job_id, "TaskGroups": [{"Name": "g", "Count": 0, "Tasks": [
        {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}}
    assert httpx.put(f"{address}/v1/jobs", json=body).status_code == 200


async def test_jobs_view_updates_live(agent: Agent) -> None:
    address = f"http://{agent.config.http_addr}"
    _register(address, "tui-job")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(ResourceTable)
        await settle(pilot, lambda: table.row_keys == ["tui-job"])
        # a job registered while the console is open appears without a refresh
        _register(address, "tui-job-2")
        await settle(pilot, lambda: table.row_keys == ["tui-job", "tui-job-2"])
        # filter
        await pilot.press("slash", *"job-2")
        await settle(pilot, lambda: table.row_keys == ["tui-job-2"])
        await pilot.press("escape")
        await settle(pilot, lambda: len(table.row_keys) == 2)
        # `:nodes` switches view; `:jobs` comes back with its state
        await pilot.press("colon", *"nodes", "enter")
        await settle(pilot, lambda: app.current_mode == "nodes")
        await pilot.press("colon", *"jobs", "enter")
        await settle(pilot, lambda: app.current_mode == "jobs")
        assert app.screen.query_one(ResourceTable).row_keys == ["tui-job", "tui-job-2"]
        # many switches in a row: each screen gets its own command bar
        for view in ("nodes", "servers", "deploy", "evals", "jobs"):
            await pilot.press("colon", *view, "enter")
            await settle(pilot, lambda v=view: app.current_mode == v)
    client.close()


async def test_console_says_when_no_agent_answers() -> None:
    client = NomadClient(address="http://127.0.0.1:1")
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(ContextBar)
        await settle(pilot, lambda: bar.has_class("error"))
        text = str(bar.render())
        assert "cannot reach http://127.0.0.1:1" in text and "retrying" in text
    client.close()


async def test_palette_jumps_to_a_job_and_header_sorts(agent: Agent) -> None:
    address = f"http://{agent.config.http_addr}"
    _register(address, "zeta-job")
    _register(address, "alpha-job")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    opened: list[tuple[str, str]] = []
    app.open_detail = lambda kind, *ids: opened.append((kind, *ids))  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one(ResourceTable)
        await settle(pilot, lambda: {"zeta-job", "alpha-job"} <= set(table.row_keys))
        # shift+I sorts by ID, again reverses
        await pilot.press("I")
        await settle(pilot, lambda: table.row_keys[0] == "alpha-job")
        await pilot.press("I")
        await settle(pilot, lambda: table.row_keys[-1] == "alpha-job")
        await pilot.press("ctrl+p", *"zeta")
        await settle(pilot, lambda: any(
            "zeta-job" in str(o.prompt)
            for lst in app.screen.query(CommandList) for o in lst.options))
        await pilot.press("enter")
        await settle(pilot, lambda: opened == [("job", "zeta-job")])
    client.close()
