"""Cluster views of the console (nodes, node, servers, deployments, evaluations,
events) driven with Pilot against one real in-process dev agent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from rich.text import Text
from textual.pilot import Pilot

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.structs import to_builtins
from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.screens.deployment import DeploymentScreen
from nomadtui.tui.screens.eval import EvalScreen
from nomadtui.tui.screens.events import EventsScreen
from nomadtui.tui.screens.node import NodeScreen
from nomadtui.tui.screens.node_actions import DeadlineScreen, drain_body, parse_deadline
from nomadtui.tui.widgets.confirm import ConfirmScreen
from nomadtui.tui.widgets.resource_table import ResourceTable

SERVICE = """
job "web" {
  datacenters = ["dc1"]
  update {
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "30s"
    progress_deadline = "2m"
  }
  group "app" {
    count = 1
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 600"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
"""

UNPLACEABLE = """
job "nowhere" {
  datacenters = ["dc1"]
  group "g" {
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "plan9"
    }
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
}
"""


@pytest.fixture
def api(agent: Agent) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{agent.config.http_addr}", timeout=10) as c:
        yield c


@pytest.fixture
def app(agent: Agent) -> Iterator[ConsoleApp]:
    client = NomadClient(address=f"http://{agent.config.http_addr}")
    yield ConsoleApp(client)
    client.close()


async def settle(pilot: Pilot[None], cond: Callable[[], Any], tries: int = 400) -> None:
    """Let the app run until `cond` holds (data arrives from watch threads)."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("console did not show the expected state")


async def goto(pilot: Pilot[None], app: ConsoleApp, view: str) -> ResourceTable:
    await pilot.press("colon", *view, "enter")
    await settle(pilot, lambda: app.current_mode == view)
    return app.screen.query_one("#table", ResourceTable)


def plain_row(table: ResourceTable, key: str) -> str:
    return " ".join(c.plain if isinstance(c, Text) else str(c) for c in table.get_row(key))


def register(api: httpx.Client, hcl: str) -> None:
    job = to_builtins(jobspec.parse_job(hcl, "job.nomad"))
    assert api.put("/v1/jobs", json={"Job": job}).status_code == 200


def node_id(api: httpx.Client) -> str:
    return str(api.get("/v1/nodes").json()[0]["ID"])


def served(api: httpx.Client, path: str, body: dict[str, Any]) -> bool:
    """Whether the server has this (idempotent, harmless with `body`) endpoint yet."""
    return api.put(path, json=body).status_code != 404


def errors(app: ConsoleApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_nodes_list_shows_ready_node_with_bars(app: ConsoleApp, api: httpx.Client) -> None:
    nid = node_id(api)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "nodes")
        await settle(pilot, lambda: table.row_keys == [nid])
        row = plain_row(table, nid)
        assert "ready" in row and "eligible" in row
        # CPU and memory bars: a bar then a percentage, in the narrow layout too
        assert row.count("%") == 2 and "░" in row
        assert [c.key for c in table.shown][:1] == ["id"]
        assert {"cpu", "memory", "status"} <= {c.key for c in table.shown}


async def test_node_view_shows_drivers_and_eligibility_toggle(
    app: ConsoleApp, api: httpx.Client
) -> None:
    nid = node_id(api)
    has_endpoint = served(api, f"/v1/node/{nid}/eligibility", {"Eligibility": "eligible"})
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "nodes")
        await settle(pilot, lambda: table.row_keys == [nid])
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, NodeScreen))
        screen = app.screen
        drivers = screen.query_one("#drivers-table", ResourceTable)
        await settle(pilot, lambda: {"raw_exec", "docker"} <= set(drivers.row_keys))
        assert "yes" in plain_row(drivers, "raw_exec")
        await pilot.press("3")
        events = screen.query_one("#events-table", ResourceTable)
        await settle(
            pilot, lambda: any("Node registered" in plain_row(events, k) for k in events.row_keys)
        )

        # enter on the confirmation's default answer cancels
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen)
        assert api.get(f"/v1/node/{nid}").json()["SchedulingEligibility"] == "eligible"

        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        try:
            await settle(
                pilot,
                lambda: (
                    errors(app)
                    or api.get(f"/v1/node/{nid}").json()["SchedulingEligibility"] == "ineligible"
                ),
            )
            if not has_endpoint:
                # the endpoint is not served yet: the server's error is shown
                assert "failed" in errors(app)[0]
            else:
                assert not errors(app)
                await settle(
                    pilot, lambda: "ineligible" in str(screen.query_one("#summary").render())
                )
        finally:
            api.put(f"/v1/node/{nid}/eligibility", json={"Eligibility": "eligible"})


async def test_read_only_hides_node_actions(agent: Agent, api: httpx.Client) -> None:
    client = NomadClient(address=f"http://{agent.config.http_addr}")
    app = ConsoleApp(client, read_only=True)
    nid = node_id(api)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "nodes")
        await settle(pilot, lambda: table.row_keys == [nid])
        await pilot.press("e", "d")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen | DeadlineScreen)
        assert app.screen.check_action("drain", ()) is False
    client.close()


async def test_servers_view_marks_the_leader(app: ConsoleApp, agent: Agent) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "servers")
        await settle(pilot, lambda: len(table.row_keys) == 1)
        row = plain_row(table, table.row_keys[0])
        assert "leader" in row and "Leader" in row and "alive" in row


async def test_deployment_list_and_detail(app: ConsoleApp, api: httpx.Client) -> None:
    register(api, SERVICE)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "deploy")
        await settle(pilot, lambda: any("web" in plain_row(table, k) for k in table.row_keys))
        key = next(k for k in table.row_keys if "web" in plain_row(table, k))
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, DeploymentScreen))
        groups = app.screen.query_one("#groups", ResourceTable)
        allocs = app.screen.query_one("#allocs", ResourceTable)
        # the bar fills as the allocation turns healthy: healthy/desired 1/1
        await settle(
            pilot,
            lambda: "1/1" in plain_row(groups, "app") if "app" in groups.row_keys else False,
            tries=1200,
        )
        await settle(pilot, lambda: len(allocs.row_keys) == 1)
        # a successful deployment offers no promote / pause
        await settle(
            pilot, lambda: "successful" in str(app.screen.query_one("#header").render()), tries=400
        )
        assert app.screen.check_action("pause", ()) is False


async def test_deployment_pause_resume_fail(app: ConsoleApp, api: httpx.Client) -> None:
    # a long min_healthy_time keeps the deployment running while we act on it
    register(api, SERVICE.replace('"web"', '"slow"').replace('"1s"', '"5m"'))

    def dep_status() -> str:
        return str((api.get("/v1/job/slow/deployment").json() or {}).get("Status", ""))

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: dep_status() == "running")
        dep_id = api.get("/v1/job/slow/deployment").json()["ID"]
        app.open_deployment(dep_id)
        await settle(
            pilot, lambda: isinstance(app.screen, DeploymentScreen) and app.screen.query("#header")
        )
        screen = app.screen
        header = screen.query_one("#header")
        await settle(pilot, lambda: "running" in str(header.render()))
        assert screen.check_action("resume", ()) is False
        for key, status in (("P", "paused"), ("U", "running"), ("F", "failed")):
            await pilot.press(key)
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await settle(pilot, lambda s=status: dep_status() == s)
            await settle(pilot, lambda s=status: s in str(header.render()))
        assert not errors(app)


async def test_evals_list_and_placement_failures(app: ConsoleApp, api: httpx.Client) -> None:
    register(api, UNPLACEABLE)
    evals = api.get("/v1/evaluations", params={"job": "nowhere"}).json()
    eval_id = next(e["ID"] for e in evals if e["TriggeredBy"] == "job-register")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "evals")
        await settle(pilot, lambda: eval_id in table.row_keys)
        await settle(pilot, lambda: "yes" in plain_row(table, eval_id))
        assert "nowhere" in plain_row(table, eval_id)
        table.move_cursor(row=table.get_row_index(eval_id))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, EvalScreen))
        failures = app.screen.query_one("#failures")
        await settle(pilot, lambda: "filtered 1 nodes" in str(failures.render()))
        text = str(failures.render())
        assert 'Task Group "g" (failed to place 1 allocation)' in text
        assert "plan9" in text


async def test_events_view_receives_job_event(app: ConsoleApp, api: httpx.Client) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "events")
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        with api.stream("GET", "/v1/event/stream") as probe:
            has_endpoint = probe.status_code != 404
        await settle(pilot, lambda: screen.status == ("live" if has_endpoint else "missing"))
        if not has_endpoint:
            assert "no event stream" in str(screen.query_one("#stream-status").render())
            return
        register(api, SERVICE.replace('"web"', '"evented"'))
        await settle(
            pilot,
            lambda: any(
                "evented" in plain_row(table, k) and "Job" in plain_row(table, k)
                for k in table.row_keys
            ),
        )
        # `t` narrows to one topic (Job first) and keeps the Job events
        await pilot.press("t")
        await settle(
            pilot,
            lambda: (
                screen.topic == "Job"
                and table.row_keys
                and all("Job" in plain_row(table, k) for k in table.row_keys)
            ),
        )


async def test_drain_and_cancel_from_nodes_list(app: ConsoleApp, api: httpx.Client) -> None:
    """Last in the module: draining the only node disturbs placements."""
    nid = node_id(api)

    def drain_state() -> tuple[bool, str]:
        n = api.get(f"/v1/node/{nid}").json()
        return bool(n["Drain"]), str(n["SchedulingEligibility"])

    has_endpoint = served(api, f"/v1/node/{nid}/drain", {"DrainSpec": None, "MarkEligible": True})

    async with app.run_test(size=(80, 24)) as pilot:
        table = await goto(pilot, app, "nodes")
        await settle(pilot, lambda: table.row_keys == [nid])
        try:
            await pilot.press("d")  # deadline prompt, pre-filled with 1h
            await settle(pilot, lambda: isinstance(app.screen, DeadlineScreen))
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "1h0m0s" in str(app.screen.query_one("#question").render())
            await pilot.press("y")
            await settle(pilot, lambda: errors(app) or drain_state() == (True, "ineligible"))
            if not has_endpoint:
                assert "failed" in errors(app)[0]
                return
            assert not errors(app)
            await settle(pilot, lambda: "draining" in plain_row(table, nid))
            # `d` on a draining node offers to cancel the drain
            await pilot.press("d")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "Cancel the drain" in str(app.screen.query_one("#question").render())
            await pilot.press("y")
            await settle(pilot, lambda: drain_state() == (False, "eligible"))
            await settle(
                pilot,
                lambda: (
                    "draining" not in plain_row(table, nid) and "eligible" in plain_row(table, nid)
                ),
            )
        finally:
            api.put(f"/v1/node/{nid}/drain", json={"DrainSpec": None, "MarkEligible": True})


def test_drain_deadlines() -> None:
    assert parse_deadline("1h") == 3600 * 10**9
    assert parse_deadline("1h30m") == 5400 * 10**9
    assert parse_deadline("force") == -1
    assert parse_deadline("none") == 0
    with pytest.raises(ValueError):
        parse_deadline("soon")
    assert drain_body(None) == {"DrainSpec": None, "MarkEligible": True}
    assert drain_body(60 * 10**9)["DrainSpec"]["Deadline"] == 60 * 10**9
