"""LogView: a bounded, followable text log with wrap and search highlighting.

Holds at most `max_lines` lines (older ones are dropped as new ones arrive)
and each line at most `max_line_chars` characters, so memory stays bounded
whatever a task prints. Only the visible rows are rendered (Line API). While
*following*, new text keeps the view at the end; scrolling up pauses, and
scrolling back to the end (or `follow()`) resumes — `FollowChanged` tells
the screen. Text is appended as-is: callers clean control characters first.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from rich.cells import cell_len, chop_cells
from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

MATCH_STYLE = Style(color="black", bgcolor="yellow")
CURRENT_MATCH_STYLE = Style(color="black", bgcolor="bright_magenta", bold=True)

RowSpan = tuple[int, int, int]  # (absolute line number, start char, end char)


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView { background: $surface; color: $text; height: 1fr; overflow: auto; }
    LogView:focus { background-tint: $foreground 3%; }
    """

    class FollowChanged(Message):
        def __init__(self, view: LogView, following: bool) -> None:
            super().__init__()
            self.view = view
            self.following = following

    def __init__(
        self,
        max_lines: int = 5000,
        max_line_chars: int = 4096,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self._lines: list[str] = []
        self._first = 0  # absolute number of _lines[0]
        self._open = False  # the last line has no newline yet
        self._widest = 0
        self._rows: list[RowSpan] = []  # wrap mode only: one entry per screen row
        self._wrap_width = 0
        self.wrap = False
        self.following = True
        self.dropped = 0
        self.search = ""
        self.match: tuple[int, int] | None = None  # (absolute line, column)

    # -- content ---------------------------------------------------------
    @property
    def lines(self) -> Sequence[str]:
        return self._lines

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def clear(self) -> None:
        self._lines.clear()
        self._rows.clear()
        self._first = 0
        self._open = False
        self._widest = 0
        self.dropped = 0
        self.match = None
        self._set_virtual_size()
        self.scroll_to(0, 0, animate=False, immediate=True, force=True)
        self.refresh()

    def append(self, text: str) -> None:
        """Add text; `\\n` ends a line, a trailing fragment stays open."""
        if not text:
            return
        parts = text.split("\n")
        removed_rows = 0
        if len(parts) > self.max_lines + 1:
            # all lines shown now, and the head of `parts`, would drop anyway
            skip = len(parts) - self.max_lines - 1
            removed_rows = len(self._rows) if self.wrap else len(self._lines)
            gone = len(self._lines) + skip - (1 if self._open and self._lines else 0)
            self._first += gone
            self.dropped += gone
            self._lines.clear()
            self._rows.clear()
            self._open = False
            self._widest = 0
            self.match = None
            parts = parts[skip:]
        clip = self.max_line_chars
        changed = len(self._lines)
        if self._open and self._lines:
            changed -= 1
        changed_abs = self._first + changed
        if self._open and self._lines:
            self._lines[-1] = (self._lines[-1] + parts[0])[:clip]
        else:
            self._lines.append(parts[0][:clip])
        self._lines.extend(p[:clip] for p in parts[1:])
        self._open = parts[-1] != ""
        if not self._open:
            self._lines.pop()  # the empty "line" after the final newline
        self._widest = max(
            [self._widest, *(cell_len(line) for line in self._lines[changed:])]
        )
        removed_rows += self._trim()
        if self.wrap:
            self._rewrap_from(changed_abs)
        self._set_virtual_size()
        if self.following:
            self._scroll_to_end()
        elif removed_rows:
            # keep the lines the user is reading in place as older ones drop
            self.scroll_to(y=max(self.scroll_y - removed_rows, 0), animate=False, force=True,
                           immediate=True)
        self.refresh()

    def _trim(self) -> int:
        """Drop lines over the cap; return how many screen rows went."""
        extra = len(self._lines) - self.max_lines
        if extra <= 0:
            return 0
        del self._lines[:extra]
        self._first += extra
        self.dropped += extra
        if self.match is not None and self.match[0] < self._first:
            self.match = None
        if not self.wrap:
            return extra
        cut = 0
        while cut < len(self._rows) and self._rows[cut][0] < self._first:
            cut += 1
        del self._rows[:cut]
        return cut

    # -- wrapping --------------------------------------------------------
    def set_wrap(self, wrap: bool) -> None:
        top = self._line_at_row(round(self.scroll_y))
        self.wrap = wrap
        self._rows.clear()
        if wrap:
            self._rewrap_from(self._first)
        self._set_virtual_size()
        if self.following:
            self._scroll_to_end()
        else:
            self.scroll_to(0, self._row_of(top, 0), animate=False, immediate=True, force=True)
        self.refresh()

    def _content_width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > 0 else 80

    def _rewrap_from(self, abs_line: int) -> None:
        while self._rows and self._rows[-1][0] >= abs_line:
            self._rows.pop()
        width = self._wrap_width = self._content_width()
        for n in range(max(abs_line, self._first), self._first + len(self._lines)):
            self._rows.extend(_wrap_line(n, self._lines[n - self._first], width))

    def on_resize(self, event: Resize) -> None:
        if self.wrap and self._content_width() != self._wrap_width:
            self.set_wrap(True)
        elif self.following:
            self._scroll_to_end()

    # -- geometry --------------------------------------------------------
    def _set_virtual_size(self) -> None:
        if self.wrap:
            self.virtual_size = Size(self._content_width(), len(self._rows))
        else:
            self.virtual_size = Size(self._widest, len(self._lines))

    def _span(self, row: int) -> RowSpan | None:
        if self.wrap:
            return self._rows[row] if 0 <= row < len(self._rows) else None
        if 0 <= row < len(self._lines):
            return (self._first + row, 0, len(self._lines[row]))
        return None

    def _line_at_row(self, row: int) -> int:
        span = self._span(row)
        return span[0] if span is not None else self._first

    def _row_of(self, abs_line: int, column: int) -> int:
        if not self.wrap:
            return abs_line - self._first
        return max(bisect_right(self._rows, (abs_line, column, 1 << 62)) - 1, 0)

    # -- following -------------------------------------------------------
    def _scroll_to_end(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)

    def set_following(self, following: bool) -> None:
        if following != self.following:
            self.following = following
            self.post_message(self.FollowChanged(self, following))
        if following:
            self._scroll_to_end()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # the user scrolled: up pauses following, reaching the end resumes it
        if round(new_value) >= self.max_scroll_y:
            self.set_following(True)
        elif new_value < old_value:
            self.set_following(False)

    # -- search ----------------------------------------------------------
    def set_search(self, term: str) -> None:
        self.search = term
        self.match = None
        self.refresh()

    def match_count(self) -> int:
        term = self.search.lower()
        return sum(line.lower().count(term) for line in self._lines) if term else 0

    def match_index(self) -> int:
        """1-based position of the current match among all matches (0: none)."""
        if self.match is None or not self.search:
            return 0
        term = self.search.lower()
        line, col = self.match
        rel = line - self._first
        before = sum(t.lower().count(term) for t in self._lines[:rel])
        return before + self._lines[rel].lower()[:col].count(term) + 1

    def find(self, forward: bool = True) -> bool:
        """Move to the next (or previous) match, wrapping around; pauses following."""
        term = self.search.lower()
        count = len(self._lines)
        if not term or not count:
            return False
        if self.match is not None:
            rel, col = self.match[0] - self._first, self.match[1]
        else:
            rel = self._line_at_row(round(self.scroll_y)) - self._first
            rel = rel if forward else min(rel + self.scrollable_content_region.height, count - 1)
            col = -1 if forward else len(self._lines[rel]) + 1
        for step in range(count + 1):
            i = (rel + step) % count if forward else (rel - step) % count
            text = self._lines[i].lower()
            if step == 0:
                at = text.find(term, col + 1) if forward else text.rfind(
                    term, 0, max(col, 0) + len(term) - 1)
            else:
                at = text.find(term) if forward else text.rfind(term)
            if at >= 0:
                self.match = (self._first + i, at)
                self._reveal(self._first + i, at)
                return True
        return False

    def _reveal(self, abs_line: int, column: int) -> None:
        self.set_following(False)
        height = max(self.scrollable_content_region.height, 1)
        row = self._row_of(abs_line, column)
        x = None
        if not self.wrap:
            width = self.scrollable_content_region.width
            end = column + len(self.search)
            if column < self.scroll_x or end > self.scroll_x + width:
                x = max(column - width // 3, 0)
        if not (self.scroll_y <= row < self.scroll_y + height):
            self.scroll_to(x, max(row - height // 2, 0), animate=False, immediate=True, force=True)
        elif x is not None:
            self.scroll_to(x, None, animate=False, immediate=True, force=True)
        self.refresh()

    # -- rendering -------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self.rich_style
        span = self._span(scroll_y + y)
        if span is None:
            return Strip.blank(width, style)
        line_no, start, end = span
        full = self._lines[line_no - self._first]
        text = Text(full[start:end], style=style, no_wrap=True, end="")
        self._highlight(text, full, line_no, start, end)
        strip = Strip(text.render(self.app.console))
        x = 0 if self.wrap else scroll_x
        return strip.crop_extend(x, x + width, style)

    def _highlight(self, text: Text, full: str, line_no: int, start: int, end: int) -> None:
        term = self.search.lower()
        if not term:
            return
        lower = full.lower()
        at = lower.find(term, max(start - len(term) + 1, 0))
        while 0 <= at < end:
            style = CURRENT_MATCH_STYLE if self.match == (line_no, at) else MATCH_STYLE
            text.stylize(style, max(at - start, 0), min(at + len(term), end) - start)
            at = lower.find(term, at + 1)


def _wrap_line(line_no: int, line: str, width: int) -> list[RowSpan]:
    if len(line) <= width and (line.isascii() or cell_len(line) <= width):
        return [(line_no, 0, len(line))]
    if line.isascii():
        return [(line_no, s, min(s + width, len(line))) for s in range(0, len(line), width)]
    spans: list[RowSpan] = []
    pos = 0
    for chunk in chop_cells(line, width):
        spans.append((line_no, pos, pos + len(chunk)))
        pos += len(chunk)
    return spans
