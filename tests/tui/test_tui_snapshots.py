"""Snapshot tests: every console view at 80x24 and 160x48, drawn from the fixed
data of tui_fake_cluster with the clock frozen, compared with the SVG committed
under tests/tui/snapshots/ (and a plain-text copy, whose diff is what a failure
shows and what a reviewer reads).

pytest-textual-snapshot is not used: it pins syrupy 4.8, which requires
pytest < 9. This is the same check with Textual's own `export_screenshot`.

Update the pictures after an intended change of a view:

    NOMADTUI_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/tui/test_tui_snapshots.py

then look at `git diff tests/tui/snapshots/*.txt` before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from tui_fake_cluster import VIEWS, fake_console, screen_text, show_view

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("NOMADTUI_UPDATE_SNAPSHOTS", "").lower() not in ("", "0", "false", "no")
SIZES = [(80, 24), (160, 48)]


def _check(name: str, svg: str, text: str, tmp_path: Path) -> None:
    svg_file, text_file = SNAPSHOTS / f"{name}.svg", SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        svg_file.write_text(svg, encoding="utf-8")
        text_file.write_text(text, encoding="utf-8")
        return
    if not svg_file.exists():
        pytest.fail(f"no snapshot {svg_file.name}: run with NOMADTUI_UPDATE_SNAPSHOTS=1")
    if svg_file.read_text(encoding="utf-8") == svg:
        return
    actual = tmp_path / svg_file.name
    actual.write_text(svg, encoding="utf-8")
    expected_text = text_file.read_text(encoding="utf-8") if text_file.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            expected_text.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"snapshots/{text_file.name}",
            "now",
        )
    )
    pytest.fail(
        f"{name} differs from its snapshot (new picture: {actual}; "
        "NOMADTUI_UPDATE_SNAPSHOTS=1 accepts it)\n"
        + (diff or "(same text: only colours or styles changed)"),
        pytrace=False,
    )


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("view", list(VIEWS))
async def test_view_snapshot(view: str, size: tuple[int, int], tmp_path: Path) -> None:
    async with fake_console(size) as (app, pilot, cluster):
        svg = await show_view(app, pilot, cluster, VIEWS[view])
        text = screen_text(app)
        assert not cluster.unhandled, f"the view asked for unknown endpoints: {cluster.unhandled}"
    _check(f"{view}_{size[0]}x{size[1]}", svg, text, tmp_path)
