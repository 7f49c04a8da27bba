"""The Job view against a real dev agent (Textual Pilot): live allocations,
scale with a plan preview, stop behind a Cancel-default confirmation,
read-only, versions diff and deployment actions."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.screens.job import JobScreen
from nomadtui.tui.screens.job_actions import StopJobScreen
from nomadtui.tui.screens.job_diff import diff_jobs, render
from nomadtui.tui.screens.job_scale import ScaleScreen, plan_summary, update_words
from nomadtui.tui.widgets.confirm import ConfirmScreen
from nomadtui.tui.widgets.resource_table import ResourceTable


async def settle(pilot: Pilot[None], cond: Callable[[], bool], tries: int = 200) -> None:
    """Let the app run until `cond` holds (data arrives from watch threads)."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("console did not show the expected state")


def _register(address: str, job_id: str, count: int = 1, deploy: bool = False) -> None:
    group: dict[str, Any] = {
        "Name": "web",
        "Count": count,
        "Tasks": [
            {
                "Name": "t",
                "Driver": "raw_exec",
                "Config": {"command": "/bin/sleep", "args": ["300"]},
            }
        ],
    }
    if not deploy:
        # no update strategy: no deployment, so scaling is never blocked by one
        group["Update"] = {"MaxParallel": 0}
    else:
        # the deployment must still be running when the test pauses it: with
        # the default 10 s min_healthy_time a slow run saw it finish first
        group["Update"] = {"MaxParallel": 1, "MinHealthyTime": 120 * 10**9}
    body = {"Job": {"ID": job_id, "TaskGroups": [group]}}
    assert httpx.put(f"{address}/v1/jobs", json=body).status_code == 200


def _purge(address: str, job_id: str) -> None:
    httpx.delete(f"{address}/v1/job/{job_id}", params={"purge": "true"})


def _plain(renderable: Any) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def _text(screen: Screen[Any], selector: str) -> str:
    return _plain(screen.query_one(selector, Static).content)


def _notified(app: ConsoleApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


def _cells(table: ResourceTable, column: str) -> list[str]:
    return [str(table.get_cell(key, column)) for key in table.row_keys]


async def _open(pilot: Pilot[None], app: ConsoleApp, job_id: str) -> JobScreen:
    table = app.screen.query_one(ResourceTable)
    await settle(pilot, lambda: job_id in table.row_keys)
    table.move_cursor(row=table.row_keys.index(job_id))
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, JobScreen))
    assert isinstance(app.screen, JobScreen)
    return app.screen


async def test_job_view_live_scale_and_stop(address: str) -> None:
    _register(address, "web-live")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(pilot, app, "web-live")
            # the overview shows the key facts and the group summary
            await settle(pilot, lambda: "web-live" in _text(screen, "#overview-body"))
            assert "Task Group" in _text(screen, "#overview-body")
            # the allocation appears and turns running without a refresh
            await pilot.press("2")
            allocs = screen.table("alloc")
            await settle(pilot, lambda: _cells(allocs, "status") == ["running"])

            # scale 1 -> 2: the plan summary shows before anything changes
            await pilot.press("s")
            await settle(pilot, lambda: isinstance(app.screen, ScaleScreen))
            await pilot.press("backspace", "2", "enter")
            dialog = app.screen
            await settle(pilot, lambda: "1 create" in _text(dialog, "#plan"))
            assert len(allocs.row_keys) == 1  # planning changed nothing
            await pilot.press("enter")  # the plan destroys nothing: Scale is focused
            await settle(pilot, lambda: app.screen is screen)
            await settle(pilot, lambda: _cells(allocs, "status") == ["running", "running"])

            # the versions tab shows the Count change against the previous version
            await pilot.press("4")
            versions = screen.table("version")
            await settle(pilot, lambda: versions.row_keys == ["1", "0"])
            versions.move_cursor(row=0)
            await settle(pilot, lambda: '+/- Count: "1" => "2"' in _text(screen, "#diff-body"))
            # pick v1 as the base and highlight v0: the diff between any two
            await pilot.press("space", "j")
            await settle(pilot, lambda: 'Count: "2" => "1"' in _text(screen, "#diff-body"))
            assert "v1 (base) → v0" in _text(screen, "#diff-body")
            # revert to the highlighted v0 (confirm: tab from Cancel to Revert)
            await pilot.press("r")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("tab", "enter")
            await settle(pilot, lambda: versions.row_keys == ["2", "1", "0"])
            assert (screen.job or {}).get("TaskGroups", [{}])[0].get("Count") == 1

            # stop: Enter on the confirmation is Cancel and does nothing
            await pilot.press("ctrl+d")
            await settle(pilot, lambda: isinstance(app.screen, StopJobScreen))
            await pilot.press("enter")
            await settle(pilot, lambda: app.screen is screen)
            assert not [w for w in app.workers if w.group.startswith("job-action")]
            assert httpx.get(f"{address}/v1/job/web-live").json()["Stop"] is False
            # stop for real: tab to the Stop button
            await pilot.press("ctrl+d")
            await settle(pilot, lambda: isinstance(app.screen, StopJobScreen))
            await pilot.press("tab", "enter")
            await settle(pilot, lambda: (screen.job or {}).get("Stop") is True)
            await pilot.press("1")
            await settle(pilot, lambda: "(stopped)" in _text(screen, "#overview-body"))
            await pilot.press("2")
            await settle(pilot, lambda: set(_cells(allocs, "desired")) == {"stop"})
    finally:
        client.close()
        _purge(address, "web-live")


async def test_read_only_hides_actions(address: str) -> None:
    _register(address, "web-ro")
    client = NomadClient(address=address)
    app = ConsoleApp(client, read_only=True)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(pilot, app, "web-ro")
            await settle(pilot, lambda: screen.job is not None)
            shown = {b.binding.id for b in screen.active_bindings.values()}
            assert "job.copy" in shown
            assert not shown & {
                "job.stop",
                "job.scale",
                "job.revert",
                "job.promote",
                "job.fail",
                "job.pause",
                "job.resume",
            }
            await pilot.press("ctrl+d", "s")
            await pilot.pause(0.1)
            assert app.screen is screen
    finally:
        client.close()
        _purge(address, "web-ro")


async def test_deployment_progress_and_pause(address: str) -> None:
    _register(address, "web-deploy", deploy=True)
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(pilot, app, "web-deploy")
            await settle(pilot, lambda: "Deployment is running" in _text(screen, "#overview-body"))
            assert "0/1" in _text(screen, "#overview-body")  # healthy of desired
            # scaling is refused while the deployment runs: the dialog says so up front,
            # and the server's error shows as a notification
            await pilot.press("s")
            await settle(pilot, lambda: isinstance(app.screen, ScaleScreen))
            dialog = app.screen
            assert "refuses to scale" in _text(dialog, "#plan")
            await pilot.press("backspace", "2", "enter")
            await settle(pilot, lambda: "1 create" in _text(dialog, "#plan"))
            await pilot.press("enter")
            await settle(pilot, lambda: _notified(app, "scaling blocked due to active deployment"))
            assert app.screen is screen and len(screen.allocs) == 1
            # pause and resume the deployment
            await pilot.press("P")
            await settle(pilot, lambda: "paused" in str((screen.deployment or {}).get("Status")))
            await settle(pilot, lambda: "Deployment is paused" in _text(screen, "#overview-body"))
            shown = {b.binding.id for b in screen.active_bindings.values()}
            assert "job.resume" in shown and "job.pause" not in shown
            await pilot.press("U")
            await settle(pilot, lambda: (screen.deployment or {}).get("Status") == "running")
    finally:
        client.close()
        _purge(address, "web-deploy")


async def test_stop_with_purge_leaves_the_view(address: str) -> None:
    _register(address, "web-purge")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            jobs = app.screen
            screen = await _open(pilot, app, "web-purge")
            await settle(pilot, lambda: screen.job is not None)
            await pilot.press("ctrl+d")
            await settle(pilot, lambda: isinstance(app.screen, StopJobScreen))
            # from Cancel: back to the Purge box, tick it, then on to Stop
            await pilot.press("shift+tab", "space", "tab", "tab", "enter")
            await settle(pilot, lambda: app.screen is jobs)
            await settle(pilot, lambda: "web-purge" not in jobs.query_one(ResourceTable).row_keys)
            assert _notified(app, "Job web-purge purged")
    finally:
        client.close()
        _purge(address, "web-purge")


# -- pure pieces (no agent) -------------------------------------------------------


def test_diff_between_any_two_versions_reads_like_nomads() -> None:
    old = {
        "ID": "x",
        "Version": 0,
        "Meta": {"owner": "ops"},
        "TaskGroups": [
            {"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Config": {"args": ["1"]}}]}
        ],
    }
    new = {
        "ID": "x",
        "Version": 3,
        "Meta": None,
        "TaskGroups": [
            {"Name": "g", "Count": 3, "Tasks": [{"Name": "t", "Config": {"args": ["2"]}}]}
        ],
    }
    text = _plain(render(diff_jobs(old, new)))
    assert '-   Meta[owner]: "ops"' in text
    assert '+/- Count: "1" => "3" (forces create)' in text
    assert '+/- args[0]: "1" => "2"' in text
    assert "Version" not in text  # bookkeeping fields are not changes
    assert _plain(render(diff_jobs(old, {**old, "Version": 9}))).startswith("No changes")


def test_plan_summary_uses_nomads_words() -> None:
    resp = {
        "Annotations": {"DesiredTGUpdates": {"web": {"Place": 1, "InPlaceUpdate": 1}}},
        "FailedTGAllocs": None,
    }
    text = _plain(plan_summary(resp, "service"))
    assert 'Task Group "web": 1 create, 1 in-place update' in text
    assert "All tasks successfully allocated" in text
    assert update_words({"Stop": 2, "Ignore": 1}) == "2 destroy, 1 ignore"
