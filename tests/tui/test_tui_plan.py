"""The plan / run screen against a real dev agent (Textual Pilot).

Every test plans real job files against a real in-process agent: new jobs,
count changes of running jobs, a stale check-index, broken files, the file
picker and the `$EDITOR` flow (with a scripted editor).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Static

from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.screens.plan import PlanScreen
from nomadtui.tui.screens.plan_picker import FilePickerScreen
from nomadtui.tui.screens.plan_spec import load_spec
from nomadtui.tui.widgets.confirm import ConfirmScreen
from nomadtui.tui.widgets.file_picker import PathInput
from tests.waiting import wait_for

DEADLINE_S = 15.0

JOB_HCL = """\
job "{job}" {{
  datacenters = ["dc1"]
  type        = "service"

  group "g" {{
    count = {count}

    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["600"]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"""


@pytest.fixture
def client(address: str) -> Iterator[NomadClient]:
    c = NomadClient(address=address)
    try:
        yield c
    finally:
        c.close()


class Recorder:
    """Wraps the app's notify / open_job so tests see what the user would."""

    def __init__(self, app: ConsoleApp) -> None:
        self.notes: list[str] = []
        self.opened: list[str] = []
        notify, open_job = app.notify, app.open_job

        def record_notify(message: str, *args: Any, **kwargs: Any) -> None:
            self.notes.append(message)
            notify(message, *args, **kwargs)

        def record_open(job_id: str) -> None:
            self.opened.append(job_id)
            open_job(job_id)

        app.notify = record_notify  # type: ignore[method-assign]
        app.open_job = record_open  # type: ignore[method-assign]


async def settle(pilot: Pilot[None], cond: Callable[[], bool], what: str) -> None:
    """Let the app run until `cond` holds, or fail after a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"console never showed: {what}")


def write_job(directory: Path, job: str, count: int, name: str | None = None) -> Path:
    path = directory / (name or f"{job}.nomad")
    path.write_text(JOB_HCL.format(job=job, count=count))
    return path


def register(client: NomadClient, path: Path) -> int:
    return int(client.register_job(load_spec(str(path)).job).data["JobModifyIndex"])


def wait_allocs(client: NomadClient, job: str, n: int) -> None:
    def placed() -> bool:
        allocs = client.job_allocations(job).data or []
        return len([a for a in allocs if a.get("DesiredStatus") == "run"]) >= n

    wait_for(placed, timeout=DEADLINE_S, what=f"job {job} to get {n} allocations")


def server_job(address: str, job: str) -> dict[str, Any] | None:
    resp = httpx.get(f"{address}/v1/job/{job}")
    return resp.json() if resp.status_code == 200 else None


def purge(client: NomadClient, job: str) -> None:
    client.deregister_job(job, purge=True)


def preview(screen: PlanScreen) -> str:
    return "\n".join(line.plain for line in screen.preview)


def plan_screen(app: ConsoleApp) -> PlanScreen:
    screen = app.screen
    assert isinstance(screen, PlanScreen), f"not on the plan screen: {screen!r}"
    return screen


def shown(widget: Widget) -> str:
    """The text a widget shows on screen right now."""
    size = widget.size
    return "\n".join(s.text for s in widget.render_lines(Region(0, 0, size.width, size.height)))


def error_box(screen: PlanScreen) -> str:
    """The error panel's text (unwrapped), or "" while it is hidden."""
    box = screen.query_one("#error", Static)
    return str(box.content) if box.has_class("shown") else ""


def confirm_label(app: ConsoleApp) -> str:
    if not isinstance(app.screen, ConfirmScreen):
        return ""
    return str(app.screen.query_one("#confirm", Button).label)


async def open_plan(pilot: Pilot[None], app: ConsoleApp, **kwargs: str) -> PlanScreen:
    await pilot.pause()
    screen = PlanScreen(**kwargs)
    await app.push_screen(screen)
    await settle(pilot, lambda: screen.plan is not None or bool(error_box(screen)), "a plan")
    await pilot.pause()  # let the layout catch up with the new content
    return screen


async def test_plan_and_run_a_new_job(address: str, client: NomadClient, tmp_path: Path) -> None:
    path = write_job(tmp_path, "plan-new", 1)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        seen = Recorder(app)
        screen = await open_plan(pilot, app, path=str(path))
        text = preview(screen)
        assert '+ Job: "plan-new"' in text
        assert '+ Task Group: "g" (1 create)' in text
        assert "All tasks successfully allocated" in text
        assert "Job Modify Index: 0" in text
        assert screen.preview[0].style == "green"  # `+` lines are green
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the run question")
        question = str(app.screen.query_one("#question").render())
        assert 'Run new job "plan-new"?' in question and "1 create" in question
        await pilot.press("y")
        await settle(pilot, lambda: seen.opened == ["plan-new"], "the job view")
        assert not isinstance(app.screen, PlanScreen)
        assert any(n.startswith("Job plan-new submitted (eval ") for n in seen.notes)
    job = server_job(address, "plan-new")
    assert job is not None and job["TaskGroups"][0]["Count"] == 1
    purge(client, "plan-new")


async def test_count_change_of_a_running_job(client: NomadClient, tmp_path: Path) -> None:
    register(client, write_job(tmp_path, "plan-count", 1))
    wait_allocs(client, "plan-count", 1)
    path = write_job(tmp_path, "plan-count", 2)
    app = ConsoleApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        text = preview(screen)
        assert '+/- Task Group: "g" (1 create, 1 in-place update)' in text
        count = next(line for line in screen.preview if "+/- Count" in line.plain)
        assert count.plain.strip() == '+/- Count: "1" => "2" (forces create)'
        assert count.style == "yellow"
        # wide terminals show the summary panel next to the diff
        assert screen.query_one("#summary").display
        # a non-destructive update asks with Run focused; it runs
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the run question")
        assert "Update job" in str(app.screen.query_one("#question").render())
        await pilot.press("y")
        await settle(
            pilot, lambda: not isinstance(app.screen, (PlanScreen, ConfirmScreen)), "the job view"
        )
    job = client.job("plan-count").data
    assert job["TaskGroups"][0]["Count"] == 2
    purge(client, "plan-count")


async def test_stale_check_index_is_refused(client: NomadClient, tmp_path: Path) -> None:
    register(client, write_job(tmp_path, "plan-stale", 1))
    path = write_job(tmp_path, "plan-stale", 2)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        assert screen.plan is not None
        planned_index = screen.plan.job_modify_index
        # someone else changes the job between the plan and the run
        other = register(client, write_job(tmp_path, "plan-stale", 3, "other.nomad"))
        assert other != planned_index
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the run question")
        await pilot.press("y")
        await settle(pilot, lambda: confirm_label(app) == "Re-plan", "the re-plan offer")
        assert "Enforcing job modify index" in str(app.screen.query_one("#question").render())
        job = client.job("plan-stale").data
        assert job["TaskGroups"][0]["Count"] == 3 and job["JobModifyIndex"] == other
        # accepting the offer plans again, against the new version
        await pilot.press("y")
        await settle(
            pilot,
            lambda: screen.plan is not None and screen.plan.job_modify_index == other,
            "a fresh plan",
        )
        assert '+/- Count: "3" => "2"' in preview(screen)
        assert "Enforcing job modify index" not in error_box(screen)
    purge(client, "plan-stale")


async def test_placement_failures_are_explained(
    address: str, client: NomadClient, tmp_path: Path
) -> None:
    path = tmp_path / "huge.nomad"
    path.write_text(
        JOB_HCL.format(job="plan-huge", count=2).replace("memory = 16", "memory = 99999999")
    )
    app = ConsoleApp(client)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        text = preview(screen)
        assert "- WARNING: Failed to place all allocations." in text
        assert 'Task Group "g" (failed to place 2 allocations):' in text
        warning = next(line for line in screen.preview if "WARNING" in line.plain)
        assert "red" in str(warning.style)
        assert "placement failures in g" in shown(screen.query_one("#summary-body"))
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the run question")
        assert "cannot be placed" in str(app.screen.query_one("#question").render())
        await pilot.press("escape")
    assert server_job(address, "plan-huge") is None


async def test_malformed_file_shows_its_line(
    address: str, client: NomadClient, tmp_path: Path
) -> None:
    path = tmp_path / "broken.nomad"
    path.write_text('job "broken" {\n  group "g" {\n    count = = 2\n  }\n}\n')
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        message = error_box(screen)
        assert "Error parsing job file" in message
        assert f"{path}:3:" in message
        assert "→ 3 │     count = = 2" in message  # the offending line, marked
        await pilot.press("r")  # nothing to run: no question, no crash
        await pilot.pause()
        assert app.screen is screen and app.is_running
    assert server_job(address, "broken") is None


async def test_cancel_submits_nothing(address: str, client: NomadClient, tmp_path: Path) -> None:
    path = write_job(tmp_path, "plan-cancel", 1)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the run question")
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen, "the plan again")
        assert screen.plan is not None
    assert server_job(address, "plan-cancel") is None


def editor_script(directory: Path, sed: str) -> str:
    script = directory / "editor.sh"
    script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_edit_file_in_editor_replans(
    client: NomadClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_job(tmp_path, "plan-edit", 1)
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "s/count = 1/count = 4/"))
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        assert "(1 create)" in preview(screen)
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the edit question")
        await pilot.press("y")
        await settle(pilot, lambda: "(4 create)" in preview(screen), "the edited plan")
    assert "count = 4" in path.read_text()


async def test_edit_server_job_as_json(
    client: NomadClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(client, write_job(tmp_path, "plan-json", 1))
    wait_allocs(client, "plan-json", 1)
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, 's/"Count": 1,/"Count": 2,/'))
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, job_id="plan-json")
        assert screen.plan is not None and screen.plan.unchanged
        assert screen.path is not None and screen.path.endswith("plan-json.json")
        await pilot.press("e")  # our own temporary copy: no question
        await settle(
            pilot, lambda: "(1 create, 1 in-place update)" in preview(screen), "the edited plan"
        )
        assert '+/- Count: "1" => "2"' in preview(screen)
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the run question")
        await pilot.press("y")
        await settle(
            pilot,
            lambda: client.job("plan-json").data["TaskGroups"][0]["Count"] == 2,
            "the job updated",
        )
    purge(client, "plan-json")


async def test_file_picker(
    client: NomadClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_job(tmp_path, "plan-picked", 1, "picked.nomad")
    (tmp_path / "notes.txt").write_text("not a job")
    monkeypatch.chdir(tmp_path)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(PlanScreen())
        await settle(pilot, lambda: isinstance(app.screen, FilePickerScreen), "the picker")
        await pilot.press("p", "i", "tab")
        box = app.screen.query_one(PathInput)
        assert box.value == "picked.nomad"
        await pilot.press("enter")
        await settle(
            pilot,
            lambda: isinstance(app.screen, PlanScreen) and app.screen.plan is not None,
            "the picked plan",
        )
        assert '+ Job: "plan-picked"' in preview(plan_screen(app))
        # esc in a fresh picker leaves the plan screen as it was
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, FilePickerScreen), "the picker")
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan again")


async def test_picker_cancel_closes_the_empty_plan_screen(client: NomadClient) -> None:
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(PlanScreen())
        await settle(pilot, lambda: isinstance(app.screen, FilePickerScreen), "the picker")
        await pilot.press("escape")
        await settle(
            pilot,
            lambda: not isinstance(app.screen, (PlanScreen, FilePickerScreen)),
            "the previous view",
        )


async def test_read_only_hides_run(address: str, client: NomadClient, tmp_path: Path) -> None:
    path = write_job(tmp_path, "plan-ro", 1)
    app = ConsoleApp(client, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        assert screen.plan is not None
        assert "plan.run" not in {
            b.binding.id for b in screen.active_bindings.values() if b.enabled
        }
        await pilot.press("r")
        await pilot.pause()
        assert app.screen is screen
    assert server_job(address, "plan-ro") is None


async def test_narrow_terminal_wraps_instead_of_overflowing(
    client: NomadClient, tmp_path: Path
) -> None:
    path = tmp_path / "long.nomad"
    long_arg = "x" * 150
    path.write_text(JOB_HCL.format(job="plan-long", count=1).replace('"600"', f'"{long_arg}"'))
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(pilot, app, path=str(path))
        await pilot.press("v")  # verbose: the added task's config is listed
        await settle(pilot, lambda: long_arg in preview(screen).replace("\n", ""), "verbose")
        await pilot.pause()
        preview_box = screen.query_one("#preview")
        assert preview_box.virtual_size.width <= preview_box.size.width
        assert not screen.query_one("#summary").display
    assert os.path.exists(path)
