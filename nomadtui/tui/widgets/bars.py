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
