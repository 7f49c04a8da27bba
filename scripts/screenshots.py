"""Render the console's views to screenshots/<view>.svg (`make screenshots`).

Each view is drawn at 120x36 on a fresh console against the fixed fake cluster
of the snapshot tests (tests/tui/tui_fake_cluster.py) with the clock frozen,
so the pictures only change when a view does. No agent, network or terminal
is needed.

    .venv/bin/python scripts/screenshots.py [--size 120x36] [--out screenshots] [VIEW ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "tui")]

from tui_fake_cluster import VIEWS, fake_console, show_view  # noqa: E402

DEFAULT_SIZE = (120, 36)


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, not {text!r}") from None


async def render(view: str, size: tuple[int, int]) -> str:
    async with fake_console(size) as (app, pilot, cluster):
        svg = await show_view(app, pilot, cluster, VIEWS[view])
        if cluster.unhandled:
            raise SystemExit(f"{view}: the view asked for unknown endpoints {cluster.unhandled}")
        return svg


async def main(views: list[str], size: tuple[int, int], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for view in views:
        started = time.monotonic()
        path = out / f"{view}.svg"
        path.write_text(await render(view, size), encoding="utf-8")
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
              f"  ({time.monotonic() - started:.1f}s)")


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("views", nargs="*", metavar="VIEW",
                        help=f"views to render (default: all of {', '.join(VIEWS)})")
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE,
                        help="terminal size, WIDTHxHEIGHT (default 120x36)")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots",
                        help="output directory (default screenshots/)")
    args = parser.parse_args(argv)
    unknown = [v for v in args.views if v not in VIEWS]
    if unknown:
        parser.error(f"unknown view(s) {', '.join(unknown)}; known: {', '.join(VIEWS)}")
    asyncio.run(main(args.views or list(VIEWS), args.size, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
