"""Compact text bars: allocation summaries and progress, for table cells."""

from __future__ import annotations

from rich.text import Text


def summary_bar(running: int, pending: int, failed: int, width: int = 10) -> Text:
    """`█` green running, `▒` yellow pending, `░` red failed; then the counts."""
    total = running + pending + failed
    bar = Text()
    if total:
        parts = [(running, "green", "█"), (pending, "yellow", "▒"), (failed, "red", "░")]
        cells = [round(n * width / total) for n, _, _ in parts]
        cells[0] += width - sum(cells)
        for (n, style, ch), k in zip(parts, cells, strict=True):
            if n and k <= 0:
                k = 1
            bar.append(ch * max(k, 0), style=style)
        bar.truncate(width)
    else:
        bar.append("·" * width, style="dim")
    bar.append(f" {running}/{pending}/{failed}")
    return bar


def progress_bar(done: int, total: int, width: int = 12) -> Text:
    filled = 0 if total <= 0 else min(width, round(done * width / total))
    bar = Text("█" * filled, style="green")
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {done}/{total}")
    return bar


def quota_bar(used: int, limit: int, unit: str, width: int = 8) -> Text:
    """Usage against a quota limit, Nomad's way: 0 = unlimited, negative = forbidden.

    `███░░░░░ 500/2500 MHz`, green below 70 %, yellow below 90 %, red above.
    """
    if limit < 0:
        bar = Text("▒" * width, style="red")
        bar.append(f" {used} {unit} (forbidden)")
        return bar
    if limit == 0:
        bar = Text("·" * width, style="dim")
        bar.append(f" {used}/∞ {unit}")
        return bar
    bar = level_bar(used, used / limit, width)
    bar.append(f" {used}/{limit} {unit}")
    return bar


def level_bar(used: int, ratio: float, width: int) -> Text:
    """`███░░░░░` filled to `ratio` of `width` (one cell at least once anything
    is used), green below 70 %, yellow below 90 %, red above; no label."""
    filled = min(width, round(ratio * width))
    if used and not filled:
        filled = 1
    style = "green" if ratio < 0.7 else "yellow" if ratio < 0.9 else "red"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    return bar
