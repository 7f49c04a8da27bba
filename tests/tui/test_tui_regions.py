"""The console's region switcher: `:region NAME`, and the picker a bare
`:region` opens (regions from /v1/regions), against tui_fake_regions."""

from __future__ import annotations

from typing import Any

from textual.widgets import OptionList
from tui_fake_cluster import JOBS, screen_text
from tui_fake_regions import RegionalCluster, regional_console
from tui_fake_security import table_keys, until

from nomadtui.tui.screens.regions import RegionPicker


def _picker_ready(app: Any) -> bool:
    if not isinstance(app.screen, RegionPicker):
        return False
    # the screen may be pushed but not composed yet
    lists = app.screen.query(OptionList)
    return bool(lists) and lists.first().option_count > 0


async def test_region_command_switches_every_request_and_the_top_line() -> None:
    cluster = RegionalCluster()
    async with regional_console(cluster) as (app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS))
        assert "region:" not in screen_text(app).splitlines()[0]
        app.run_command("region b")
        await until(pilot, lambda: table_keys(app) == ["only-in-b"])
        assert "region:b" in screen_text(app).splitlines()[0].split()
        assert app.client.config.region == "b"
        # from now on every request asks region b
        asked = len(cluster.regions_asked)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(cluster.regions_asked) > asked)
        assert set(cluster.regions_asked[asked:]) == {"b"}


async def test_picker_lists_the_regions_and_switches() -> None:
    cluster = RegionalCluster()
    async with regional_console(cluster) as (app, pilot):
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS))
        app.run_command("region")
        await until(pilot, lambda: _picker_ready(app))
        listing = app.screen.query_one(OptionList)
        ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
        assert ids == ["a", "b"]
        listing.highlighted = ids.index("b")
        await pilot.press("enter")
        await until(pilot, lambda: table_keys(app) == ["only-in-b"])
        assert not isinstance(app.screen, RegionPicker)

        # back to a: the picker marks the current one, esc leaves it as is
        app.run_command("regions")
        await until(pilot, lambda: _picker_ready(app))
        listing = app.screen.query_one(OptionList)
        assert listing.highlighted == 1
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RegionPicker))
        assert app.client.config.region == "b"
        app.run_command("region a")
        await until(pilot, lambda: len(table_keys(app)) == len(JOBS))
        assert "region:a" in screen_text(app).splitlines()[0].split()
