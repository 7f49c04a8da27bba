"""The console's service catalog views (`:services` list, one service's
instances) driven with Pilot against one real in-process dev agent.

Registrations are written the way a client agent writes them
(`PUT /v1/internal/services`) for a real allocation, so health can be
turned critical on demand and the views must follow through their blocking
queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from rich.text import Text
from textual.pilot import Pilot
from tui_fake_cluster import fake_console

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.structs import to_builtins
from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.palette import JumpProvider
from nomadtui.tui.screens.alloc import AllocScreen
from nomadtui.tui.screens.services import ServicesScreen
from nomadtui.tui.screens.services_detail import ServiceScreen
from nomadtui.tui.widgets.confirm import ConfirmScreen
from nomadtui.tui.widgets.resource_table import ResourceTable
from tests.waiting import wait_for

JOB = """
job "shop" {
  datacenters = ["dc1"]
  group "app" {
    count = 2
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 600"]
      }
      resources {
        cpu    = 50
        memory = 16
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def api(agent: Agent) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{agent.config.http_addr}", timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def allocs(api: httpx.Client) -> list[str]:
    """The IDs of the job's two allocations (registrations must name real ones)."""
    job = to_builtins(jobspec.parse_job(JOB, "shop.nomad"))
    assert api.put("/v1/jobs", json={"Job": job}).status_code == 200

    def two() -> list[str] | None:
        ids = [a["ID"] for a in api.get("/v1/job/shop/allocations").json()]
        return sorted(ids) if len(ids) == 2 else None

    ids: list[str] = wait_for(two, what="two allocations of shop")
    return ids


@pytest.fixture
def app(agent: Agent) -> Iterator[ConsoleApp]:
    client = NomadClient(address=f"http://{agent.config.http_addr}")
    yield ConsoleApp(client)
    client.close()


def registration(
    service: str, alloc_id: str, port: int, health: str, output: str = ""
) -> dict[str, Any]:
    return {
        "ID": f"_nomad-task-{alloc_id}-t-{service}-http",
        "ServiceName": service,
        "AllocID": alloc_id,
        "Tags": ["http"],
        "Address": "127.0.0.1",
        "Port": port,
        "Health": health,
        "Checks": [{"Name": "healthz", "Status": health, "Output": output, "Timestamp": 1}],
    }


def upsert(api: httpx.Client, *regs: dict[str, Any]) -> None:
    resp = api.put("/v1/internal/services", json={"Upserts": list(regs)})
    assert resp.status_code == 200, resp.text


def registered(api: httpx.Client, service: str) -> list[dict[str, Any]]:
    return list(api.get(f"/v1/service/{service}").json())


async def settle(pilot: Pilot[None], cond: Callable[[], Any], tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("console did not show the expected state")


def plain_row(table: ResourceTable, key: str) -> str:
    return " ".join(c.plain if isinstance(c, Text) else str(c) for c in table.get_row(key))


def row_or_empty(table: ResourceTable, key: str) -> str:
    return plain_row(table, key) if key in table.row_keys else ""


async def open_service(pilot: Pilot[None], app: ConsoleApp, name: str) -> ServiceScreen:
    await pilot.press("colon", *"svc", "enter")
    await settle(pilot, lambda: isinstance(app.screen, ServicesScreen))
    table = app.screen.query_one("#table", ResourceTable)
    await settle(pilot, lambda: name in table.row_keys)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, ServiceScreen))
    assert isinstance(app.screen, ServiceScreen)
    return app.screen


async def test_list_counts_healthy_instances_and_follows_a_check_turning_critical(
    app: ConsoleApp, api: httpx.Client, allocs: list[str]
) -> None:
    upsert(
        api,
        registration("shop-api", allocs[0], 8001, "passing"),
        registration("shop-api", allocs[1], 8002, "passing"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"services", "enter")
        await settle(pilot, lambda: isinstance(app.screen, ServicesScreen))
        table = app.screen.query_one("#table", ResourceTable)
        await settle(pilot, lambda: "2/2 passing" in row_or_empty(table, "shop-api"))
        assert "shop" in plain_row(table, "shop-api")  # the Jobs column
        assert "http" in plain_row(table, "shop-api")  # the Tags column

        upsert(api, registration("shop-api", allocs[1], 8002, "critical", "connection refused"))
        # a blocking query, not a poll: the change shows well inside one wait
        await settle(pilot, lambda: "1/2 critical" in row_or_empty(table, "shop-api"), tries=40)
        health = table.get_row("shop-api")[[c.key for c in table.shown].index("health")]
        assert isinstance(health, Text) and health.style == "red"


async def test_filter_narrows_the_list(
    app: ConsoleApp, api: httpx.Client, allocs: list[str]
) -> None:
    upsert(
        api,
        registration("billing", allocs[0], 8101, "passing"),
        registration("search", allocs[0], 8102, "passing"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"svc", "enter")
        await settle(pilot, lambda: isinstance(app.screen, ServicesScreen))
        table = app.screen.query_one("#table", ResourceTable)
        await settle(pilot, lambda: {"billing", "search"} <= set(table.row_keys))
        await pilot.press("slash", *"bill")
        await settle(pilot, lambda: table.row_keys == ["billing"])


async def test_detail_shows_instances_and_the_selected_checks_output(
    app: ConsoleApp, api: httpx.Client, allocs: list[str]
) -> None:
    upsert(
        api,
        registration("shop-web", allocs[0], 8201, "passing", "HTTP GET /: 200 OK"),
        registration("shop-web", allocs[1], 8202, "critical", "HTTP GET /: 503 backend down"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_service(pilot, app, "shop-web")
        table = screen.query_one("#instances", ResourceTable)
        await settle(pilot, lambda: len(table.row_keys) == 2)
        rows = [plain_row(table, k) for k in table.row_keys]
        # the critical instance comes first, with its alloc, address and check count
        assert allocs[1][:8] in rows[0] and "127.0.0.1:8202" in rows[0]
        assert "critical" in rows[0] and "0/1 passing" in rows[0]
        assert allocs[0][:8] in rows[1] and "passing" in rows[1]
        checks = screen.query_one("#checks")
        await settle(pilot, lambda: "503 backend down" in str(checks.render()))
        await pilot.press("down")
        await settle(pilot, lambda: "200 OK" in str(checks.render()))

        # a check turning critical shows up in the open detail too
        upsert(api, registration("shop-web", allocs[0], 8201, "critical", "timeout"))
        await settle(pilot, lambda: "timeout" in str(checks.render()), tries=40)

        # `a` (and enter) open the instance's allocation
        await pilot.press("a")
        await settle(pilot, lambda: isinstance(app.screen, AllocScreen))
        assert app.screen.alloc_id == allocs[0]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, AllocScreen))


async def test_delete_asks_then_removes_the_registration(
    app: ConsoleApp, api: httpx.Client, allocs: list[str]
) -> None:
    upsert(
        api,
        registration("shop-old", allocs[0], 8301, "passing"),
        registration("shop-old", allocs[1], 8302, "passing"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_service(pilot, app, "shop-old")
        table = screen.query_one("#instances", ResourceTable)
        await settle(pilot, lambda: len(table.row_keys) == 2)
        victim = table.current_key
        assert victim is not None

        # enter on the confirmation's default answer (Cancel) deletes nothing
        await pilot.press("d")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen)
        assert len(registered(api, "shop-old")) == 2

        await pilot.press("d")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await settle(pilot, lambda: len(registered(api, "shop-old")) == 1)
        assert victim not in {r["ID"] for r in registered(api, "shop-old")}
        # and the open view follows
        await settle(pilot, lambda: victim not in table.row_keys and len(table.row_keys) == 1)


async def test_read_only_hides_delete(agent: Agent, api: httpx.Client, allocs: list[str]) -> None:
    upsert(api, registration("shop-ro", allocs[0], 8401, "passing"))
    client = NomadClient(address=f"http://{agent.config.http_addr}")
    app = ConsoleApp(client, read_only=True)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_service(pilot, app, "shop-ro")
            table = screen.query_one("#instances", ResourceTable)
            await settle(pilot, lambda: len(table.row_keys) == 1)
            await pilot.press("d")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmScreen)
            assert screen.check_action("delete", ()) is False
            assert len(registered(api, "shop-ro")) == 1
    finally:
        client.close()


async def test_palette_knows_the_services_view_and_its_alias(app: ConsoleApp) -> None:
    async with app.run_test(size=(80, 24)):
        provider = JumpProvider(app.screen)
        texts = [text for text, _, _ in provider._views()]
        assert "view services (svc)" in texts


async def test_detail_keeps_its_data_and_says_so_when_the_server_errs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nomadtui.tui.screens import services_detail

    # a short blocking wait: the failing answer arrives on the watch's next round
    monkeypatch.setattr(services_detail, "WAIT_S", 0.2)
    async with fake_console((80, 24)) as (app, pilot, cluster):
        app.open_service("web")
        await settle(pilot, lambda: isinstance(app.screen, ServiceScreen))
        await settle(pilot, lambda: app.screen.query("#instances"))
        table = app.screen.query_one("#instances", ResourceTable)
        await settle(pilot, lambda: len(table.row_keys) == 4)
        cluster.routes.insert(
            0,
            (
                "GET",
                re.compile(r"/v1/service/web$"),
                lambda m, r: httpx.Response(500, text="catalog on fire"),
            ),
        )
        await settle(pilot, lambda: any("catalog on fire" in n.message for n in app._notifications))
        assert len(table.row_keys) == 4
        assert "critical" in plain_row(table, table.row_keys[0])
