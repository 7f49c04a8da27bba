"""Allocations list, allocation view and logs view against a real dev agent (Pilot).

raw_exec tasks print to stdout and stderr; the tests watch the console show
them live, search them, pause and resume following, hold the line cap with a
chatty task, and restart a task from the allocation view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.screens.alloc import AllocScreen
from nomadtui.tui.screens.allocs import AllocsScreen
from nomadtui.tui.screens.logs import MAX_LINES, LogsScreen
from nomadtui.tui.screens.logs_stream import LogBuffer, ResumeSplicer, clean
from nomadtui.tui.widgets.confirm import ConfirmScreen
from nomadtui.tui.widgets.log_view import LogView
from nomadtui.tui.widgets.resource_table import ResourceTable
from tests.waiting import wait_for

TICKER = 'i=0; while true; do echo "tick $i"; echo "oops $i" >&2; i=$((i+1)); sleep 0.2; done'
CHATTY = "seq 1 200000; exec sleep 3600"
FLOOD = "while :; do seq 1 2000; sleep 0.05; done"  # ~40,000 lines a second


def _register(address: str, job_id: str, script: str) -> None:
    task = {"Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/sh", "args": ["-c", script]}}
    body = {"Job": {"ID": job_id, "Type": "service",
                    "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [task]}]}}
    resp = httpx.put(f"{address}/v1/jobs", json=body)
    assert resp.status_code == 200, resp.text


def _running_alloc(address: str, job_id: str) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        allocs = httpx.get(f"{address}/v1/job/{job_id}/allocations").json()
        return next((a for a in allocs if a["ClientStatus"] == "running"), None)

    found: dict[str, Any] = wait_for(running, what=f"{job_id} running")
    return found


async def settle(pilot: Pilot[None], cond: Callable[[], Any], timeout: float = 20.0,
                 what: str = "the expected state") -> None:
    """Let the app run until `cond` holds (data arrives from worker threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"console did not show {what}")


def _cells(table: ResourceTable) -> list[list[str]]:
    return [[c.plain if isinstance(c, Text) else str(c) for c in table.get_row(k)]
            for k in table.row_keys]


def _errors(app: ConsoleApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_allocs_list_alloc_view_and_logs(address: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"allocs", "enter")
        await settle(pilot, lambda: isinstance(app.screen, AllocsScreen), what=":allocs")
        table = app.screen.query_one(ResourceTable)
        # an allocation placed while the list is open appears without a refresh
        _register(address, "tui-ticker", TICKER)
        alloc = _running_alloc(address, "tui-ticker")
        await settle(pilot, lambda: alloc["ID"] in table.row_keys, what="the new alloc")
        await settle(pilot, lambda: "running" in _cells(table)[
            table.row_keys.index(alloc["ID"])], what="the alloc running")

        # enter opens it: the task is running and its events are listed
        table.move_cursor(row=table.row_keys.index(alloc["ID"]))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, AllocScreen), what="the alloc")
        screen = app.screen
        assert isinstance(screen, AllocScreen)
        tasks = screen.query_one("#tasks", ResourceTable)
        events = screen.query_one("#events", ResourceTable)
        await settle(pilot, lambda: _cells(tasks)[:1] and _cells(tasks)[0][:2] == [
            "t", "running"], what="task t running")
        await settle(pilot, lambda: any(r[1] == "Started" for r in _cells(events)),
                     what="the Started event")
        types = [r[1] for r in _cells(events)]
        assert types.index("Started") < types.index("Received"), "newest first"

        # logs: the task's output appears, and keeps arriving (following)
        await pilot.press("l")
        await settle(pilot, lambda: isinstance(app.screen, LogsScreen), what="logs")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        view = logs.query_one(LogView)
        await settle(pilot, lambda: view.line_count >= 3 and view.lines[0].startswith("tick"),
                     what="stdout lines")
        seen = view.line_count
        await settle(pilot, lambda: view.line_count >= seen + 3, what="new lines (follow)")
        assert view.following and view.scroll_y == view.max_scroll_y
        assert "following" in str(logs.query_one("#status").render())

        # e: stderr
        await pilot.press("e")
        await settle(pilot, lambda: logs.stream_type == "stderr" and view.line_count > 0
                     and view.lines[-1].startswith("oops"), what="stderr lines")
        assert not any(line.startswith("tick") for line in view.lines)
        await pilot.press("o")
        await settle(pilot, lambda: view.line_count > 30 and view.lines[-1].startswith("tick"),
                     what="stdout again, more than a screenful")

        # scrolling up pauses following; new lines no longer move the view
        await pilot.press("pageup")
        await settle(pilot, lambda: not view.following, what="paused")
        assert "paused" in str(logs.query_one("#status").render())
        top = view.scroll_y
        count = view.line_count
        await settle(pilot, lambda: view.line_count > count + 2, what="lines while paused")
        assert view.scroll_y == top
        # f resumes, and the view jumps to the end
        await pilot.press("f")
        await settle(pilot, lambda: view.following and view.scroll_y == view.max_scroll_y,
                     what="following again")

        # / search: matches are highlighted, n / N move between them
        await pilot.press("slash", *"tick 1", "enter")
        await settle(pilot, lambda: view.match is not None, what="a match")
        assert not view.following, "a jump to a match pauses following"
        first = view.match
        assert first is not None
        line = view.lines[first[0] - (view.dropped)]
        assert "tick 1" in line
        strip = view.render_line(first[0] - view.dropped - round(view.scroll_y))
        assert any(seg.style is not None and seg.style.bgcolor is not None
                   and "tick 1" in seg.text for seg in strip), "match highlighted"
        await pilot.press("n")
        await settle(pilot, lambda: view.match != first, what="the next match")
        second = view.match
        assert second is not None and second[0] > first[0]
        await pilot.press("N")
        await settle(pilot, lambda: view.match == first, what="back to the first match")
        assert "/tick 1 1/" in str(logs.query_one("#status").render())

        # w: wrap toggle keeps working with the search
        await pilot.press("w")
        await settle(pilot, lambda: view.wrap, what="wrap on")

        # s: save the whole log to a file (default name offered)
        monkeypatch.chdir(tmp_path)
        await pilot.press("s")
        box = logs.query_one("#save")
        assert getattr(box, "value", "") == f"./{alloc['ID'][:8]}-t.stdout.log"
        await pilot.press("enter")
        saved = tmp_path / f"{alloc['ID'][:8]}-t.stdout.log"
        await settle(pilot, lambda: saved.exists() and "tick 3" in saved.read_text(),
                     what="the saved log")

        # leaving the view stops the stream thread at once
        stream = logs.log_stream
        assert stream is not None
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, AllocScreen), what="back")
        assert stream.join(timeout=2.0), "log stream thread still running"
        # enter on a task opens its logs too; esc walks back to the list
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, LogsScreen), what="logs (enter)")
        await pilot.press("escape", "escape")
        await settle(pilot, lambda: isinstance(app.screen, AllocsScreen), what="the list")
        assert len(app.screen_stack) == 1
    client.close()


async def test_line_cap_holds_with_a_chatty_task(address: str) -> None:
    _register(address, "tui-chatty", CHATTY)
    alloc = _running_alloc(address, "tui-chatty")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_logs(alloc["ID"], "t")
        await settle(pilot, lambda: app.screen.query(LogView), what="logs")
        view = app.screen.query_one(LogView)
        await settle(pilot, lambda: view.line_count and view.lines[-1] == "200000",
                     timeout=30, what="the last line of a chatty task")
        assert view.line_count == MAX_LINES
        assert view.lines[0] == str(200000 - MAX_LINES + 1)
        assert view.following and view.scroll_y == view.max_scroll_y
        assert str(view.render_line(view.size.height - 1).text).startswith("200000")
    client.close()


async def test_ui_stays_responsive_under_a_flood_of_lines(address: str) -> None:
    _register(address, "tui-flood", FLOOD)
    alloc = _running_alloc(address, "tui-flood")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            app.open_logs(alloc["ID"], "t")
            await settle(pilot, lambda: app.screen.query(LogView), what="logs")
            view = app.screen.query_one(LogView)
            await settle(pilot, lambda: view.line_count == MAX_LINES and view.dropped > 0,
                         what="the cap reached")
            dropped = view.dropped
            # keys are handled promptly while lines pour in
            await pilot.press("w")
            await settle(pilot, lambda: view.wrap, timeout=2.0, what="wrap toggled")
            await settle(pilot, lambda: view.dropped > dropped + 10_000, what="still flowing")
            assert view.line_count == MAX_LINES and view.following
    finally:
        client.close()
        httpx.delete(f"{address}/v1/job/tui-flood", params={"purge": "true"})


async def test_restart_task_from_the_alloc_view(address: str) -> None:
    _register(address, "tui-restart", TICKER)
    alloc = _running_alloc(address, "tui-restart")
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_alloc(alloc["ID"])
        await settle(pilot, lambda: app.screen.query("#tasks"), what="alloc")
        screen = app.screen
        tasks = screen.query_one("#tasks", ResourceTable)
        await settle(pilot, lambda: tasks.row_keys == ["t"], what="the task")
        # the question defaults to Cancel: enter alone restarts nothing
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen, what="cancelled")
        assert not screen.workers
        # confirming restarts the task in place
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("tab", "enter")
        await settle(pilot, lambda: any("restarted" in n.message for n in app._notifications),
                     what="the restart notification")
        events = screen.query_one("#events", ResourceTable)
        await settle(pilot, lambda: any(r[1] == "Restart Signaled" for r in _cells(events)),
                     what="the Restart Signaled event")
        await settle(pilot, lambda: _cells(tasks)[0][2] == "1", what="1 restart")
        # S stops the allocation (the scheduler replaces it); the view follows
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("tab", "enter")
        facts = screen.query_one("#facts-right")
        await settle(pilot, lambda: "Desired   stop" in str(facts.render()),
                     what="desired status stop")
        await settle(pilot, lambda: "complete" in str(facts.render()), what="stopped")
        assert not _errors(app)
    client.close()


async def test_actions_report_server_errors_and_hide_when_read_only(address: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    client = NomadClient(address=address)
    app = ConsoleApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_alloc(missing)
        await settle(pilot, lambda: app.screen.query("#events-title"), what="alloc")
        title = app.screen.query_one("#events-title")
        await settle(pilot, lambda: "not found" in str(title.render()), what="not found")
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await settle(pilot, lambda: any("stop of 00000000 failed" in m for m in _errors(app)),
                     what="the server's error")
        assert not app.connection_error, "a missing alloc is not a connection error"
    client.close()

    client = NomadClient(address=address)
    app = ConsoleApp(client, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_alloc(missing)
        await settle(pilot, lambda: isinstance(app.screen, AllocScreen), what="alloc")
        screen = app.screen
        assert screen.check_action("restart", (False,)) is False
        assert screen.check_action("stop", ()) is False
        for key in ("r", "R", "S"):
            await pilot.press(key)
        await pilot.pause(0.1)
        assert app.screen is screen, "read-only: no action offered"
    client.close()


# -- the log view and stream buffer on their own (no agent) -------------------

class _LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=10, max_line_chars=50)


async def test_log_view_joins_fragments_caps_lines_and_wraps() -> None:
    app = _LogApp()
    async with app.run_test(size=(20, 6)) as pilot:
        view = app.query_one(LogView)
        view.append("hel")
        view.append("lo\nwor")
        view.append("ld\n")
        assert list(view.lines) == ["hello", "world"]
        view.append("".join(f"line {i}\n" for i in range(100)))
        assert view.line_count == 10 and view.lines[-1] == "line 99"
        assert view.dropped == 92 and view.lines[0] == "line 90"
        view.append("x" * 80 + "\n")
        assert len(view.lines[-1]) == 50, "long lines are clipped"
        view.set_wrap(True)
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert view.virtual_size.height == 9 + -(-50 // width)
        # scrolled up: paused, and the view stays on the same lines as old ones drop
        view.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        assert not view.following
        view.set_search("line 9")

        def matched() -> str:
            assert view.match is not None
            return view.lines[view.match[0] - view.dropped]

        assert view.find() and matched() == "line 91"
        assert view.match_index() == 1
        assert view.find(forward=False) and matched() == "line 99", "wraps around"
        assert view.match_index() == view.match_count() == 9


def test_log_buffer_is_bounded_and_text_is_cleaned() -> None:
    buf = LogBuffer(limit=100)
    assert buf.put("a" * 60) is True
    assert buf.put("b" * 60) is False
    assert buf.take() == "b" * 60 and buf.dropped_chars == 60
    buf.put("c" * 500)
    assert buf.take() == "c" * 100
    assert clean("\x1b[31mred\x1b[0m\r\n\tx\x07") == "red\n        x"


# ---- reconnect splicing (offsets are per rotated file, so resume by content) ----


def test_resume_splicer_drops_what_was_already_shown() -> None:
    shown = b"line 1\nline 2\nline 3\n"
    splicer = ResumeSplicer(shown[-10:])
    # the reconnect re-reads from before the break, in pieces
    assert splicer.feed(b"line 1\nline 2\nli") == (b"", False)
    assert splicer.feed(b"ne 3\nline 4\n") == (b"line 4\n", False)
    assert splicer.feed(b"line 5\n") == (b"line 5\n", False)


def test_resume_splicer_reports_a_gap_when_the_overlap_never_comes() -> None:
    splicer = ResumeSplicer(b"old tail", limit=16)
    assert splicer.feed(b"brand new ") == (b"", False)
    assert splicer.feed(b"output, much more than the limit") == (
        b"brand new output, much more than the limit",
        True,
    )
    idle = ResumeSplicer(b"old tail")
    idle.feed(b"unrelated")
    assert idle.flush() == (b"unrelated", True)
    empty = ResumeSplicer(b"old tail")
    assert empty.flush() == (b"", False)  # nothing before: nothing missed
    assert empty.feed(b"new") == (b"new", False)
