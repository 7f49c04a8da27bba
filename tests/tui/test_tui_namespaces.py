"""Namespaces and quotas in the console: `:ns NAME`, the picker, `*` with its
Namespace column, and the quota usage bars — against tui_fake_security's
SecureCluster, plus 80x24 snapshots of the picker and the quota view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_tui_snapshots import _check
from textual.widgets import OptionList
from tui_fake_cluster import JOBS, screen_text
from tui_fake_security import (
    MANAGEMENT_SECRET,
    READER_SECRET,
    SecureCluster,
    secure_console,
    table_keys,
    until,
)

from nomadtui.tui.screens.namespaces import NamespacePicker
from nomadtui.tui.widgets.resource_table import ResourceTable


def _screen(app: Any, name: str) -> bool:
    return type(app.screen).__name__ == name


def _columns(app: Any) -> list[str]:
    return [c.label for c in app.screen.query_one("#table", ResourceTable).shown]


def _picker_ready(app: Any) -> bool:
    if not isinstance(app.screen, NamespacePicker):
        return False
    return app.screen.query_one(OptionList).option_count == 4


async def test_ns_command_switches_and_lists_that_namespaces_jobs() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET) as (app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS) and app.permissions.known)
        app.run_command("ns b")
        await until(pilot, lambda: sorted(table_keys(app)) == ["api", "web"])
        assert "ns:b" in screen_text(app).splitlines()[0].split()
        assert "Namespace" not in _columns(app)
        # the job opens in its namespace
        await pilot.press("enter")
        await until(pilot, lambda: _screen(app, "JobScreen") and app.screen.job is not None)
        assert app.screen.job["Namespace"] == "b"


async def test_picker_lists_the_namespaces_and_switches() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET) as (app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS))
        await pilot.press("n")
        await until(pilot, lambda: _picker_ready(app))
        listing = app.screen.query_one(OptionList)
        ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
        assert ids == ["b", "c", "default", "*"]
        # the current one is highlighted: move to `b` and pick it
        assert ids[listing.highlighted or 0] == "default"
        target = ids.index("b")
        listing.highlighted = target
        await pilot.press("enter")
        await until(pilot, lambda: sorted(table_keys(app)) == ["api", "web"])
        assert app.namespace == "b"


async def test_all_namespaces_shows_a_namespace_column() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=MANAGEMENT_SECRET) as (app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS))
        app.run_command("ns *")
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS) + 2)
        assert _columns(app)[:2] == ["ID", "Namespace"]
        keys = table_keys(app)
        # two jobs called `web`, told apart by their namespace
        assert "default/web" in keys and "b/web" in keys
        table = app.screen.query_one("#table", ResourceTable)
        row = [c.plain for c in table.get_row("b/web")]
        assert row[:2] == ["web", "b"]
        table.move_cursor(row=table.get_row_index("b/web"))
        await pilot.press("enter")
        await until(pilot, lambda: _screen(app, "JobScreen") and app.screen.job is not None)
        assert app.screen.job["Namespace"] == "b"
        await pilot.press("escape")
        # other lists too, and back to one namespace drops the column
        await app.switch_mode("allocs")
        await until(pilot, lambda: _screen(app, "AllocsScreen") and len(table_keys(app)) > 0)
        assert "Namespace" in _columns(app)
        app.run_command("ns default")
        await until(pilot, lambda: "Namespace" not in _columns(app) and len(table_keys(app)) > 0)
        await app.switch_mode("jobs")
        await until(
            pilot, lambda: "Namespace" not in _columns(app) and len(table_keys(app)) == len(JOBS)
        )


async def test_quota_view_shows_usage_against_limits() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET) as (app, pilot):
        app.run_command("quotas")
        await until(
            pilot, lambda: _screen(app, "QuotasScreen") and "1200/2500 MHz" in screen_text(app)
        )
        text = screen_text(app)
        lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
        for ns in ("b", "c"):  # sharing the quota: the same usage
            assert "team-b" in lines[ns]
            assert "1200/2500 MHz" in lines[ns] and "512/2000 MiB" in lines[ns]
        assert "no quota" in lines["default"]


async def test_picker_opens_the_quota_view() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET) as (app, pilot):
        await pilot.press("n")
        await until(pilot, lambda: _picker_ready(app))
        await pilot.press("u")
        await until(
            pilot, lambda: _screen(app, "QuotasScreen") and "512/2000 MiB" in screen_text(app)
        )


async def _still(app: Any, pilot: Any) -> tuple[str, str]:
    """The screen once it holds still (three identical pictures in a row)."""
    shots: list[str] = []
    for _ in range(100):
        await pilot.pause(0.05)
        shots = [*shots[-2:], app.export_screenshot(title="nomadtui")]
        if len(shots) == 3 and len(set(shots)) == 1:
            return shots[0], screen_text(app)
    raise AssertionError("the screen kept changing")


async def test_namespace_picker_snapshot_80x24(tmp_path: Path) -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET, size=(80, 24)) as (app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS) and app.permissions.known)
        await pilot.press("n")
        await until(pilot, lambda: _picker_ready(app))
        svg, text = await _still(app, pilot)
    assert "team b's services" in text and "every namespace you can see" in text
    assert not cluster.unhandled
    _check("namespace-picker_80x24", svg, text, tmp_path)


async def test_quota_view_snapshot_80x24(tmp_path: Path) -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET, size=(80, 24)) as (app, pilot):
        app.run_command("quotas")
        await until(
            pilot,
            lambda: (
                _screen(app, "QuotasScreen")
                and app.permissions.known
                and "512/2000 MiB" in screen_text(app)
            ),
        )
        svg, text = await _still(app, pilot)
    # everything a user needs fits in 80 columns
    assert "1200/2500 MHz" in text and "512/2000 MiB" in text and "team-b" in text
    assert not cluster.unhandled
    _check("quotas_80x24", svg, text, tmp_path)
