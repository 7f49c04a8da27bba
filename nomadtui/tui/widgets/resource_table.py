"""ResourceTable: a DataTable whose rows are keyed by resource ID and updated in place.

`set_rows` diffs the new rows against what is shown: changed cells are
updated, new rows added, vanished rows removed — the cursor stays on the same
resource and the scroll position holds. Rows can be filtered (`/`), sorted by
a column, and columns marked with a priority drop out when the terminal is
narrow, so nothing wraps at 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.widgets import DataTable


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None
    # 0 = always shown; higher numbers drop first when the table is narrow
    priority: int = 0


Row = tuple[str, Sequence[Any]]  # (key, cells in Column order)


def _as_text(cell: Any) -> Text:
    return cell if isinstance(cell, Text) else Text(str(cell), no_wrap=True, end="")


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class ResourceTable(DataTable[Any]):
    DEFAULT_CSS = """
    ResourceTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[Column], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.all_columns = list(columns)
        self.shown: list[Column] = []
        self._rows: list[Row] = []
        self.filter_text = ""
        self.sort_key: str | None = None
        self.sort_reverse = False

    def on_mount(self) -> None:
        self._rebuild_columns(self.size.width or 80)

    def on_resize(self, event: Resize) -> None:
        if self._fit(event.size.width) != self.shown:
            self._rebuild_columns(event.size.width)

    # -- columns ---------------------------------------------------------
    def _fit(self, width: int) -> list[Column]:
        cols = list(self.all_columns)

        def need(cs: list[Column]) -> int:
            return sum((c.width or max(len(c.label), 8)) + 2 for c in cs)

        while need(cols) > width and any(c.priority > 0 for c in cols):
            drop = max(cols, key=lambda c: c.priority)
            cols.remove(drop)
        return cols

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Replace the column set (rows must then come in the new order)."""
        self.all_columns = list(columns)
        self._rows = []
        if self.sort_key not in {c.key for c in self.all_columns}:
            self.sort_key, self.sort_reverse = None, False
        self._rebuild_columns(self.size.width or 80)

    def _rebuild_columns(self, width: int) -> None:
        self.shown = self._fit(width)
        self.clear(columns=True)
        for c in self.shown:
            self.add_column(c.label, key=c.key, width=c.width)
        self._render_rows(force=True)

    # -- rows ------------------------------------------------------------
    @property
    def row_keys(self) -> list[str]:
        return [k for k, _ in self._visible()]

    def set_rows(self, rows: Sequence[Row]) -> None:
        self._rows = list(rows)
        self._render_rows()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._render_rows(force=True)

    def sort_by(self, key: str) -> None:
        if self.sort_key == key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        self._render_rows(force=True)

    def _visible(self) -> list[Row]:
        rows = self._rows
        if self.filter_text:
            rows = [
                r for r in rows
                if any(self.filter_text in _plain(c).lower() for c in r[1]) or
                self.filter_text in r[0].lower()
            ]
        if self.sort_key is not None:
            idx = [c.key for c in self.all_columns].index(self.sort_key)
            rows = sorted(rows, key=lambda r: _plain(r[1][idx]), reverse=self.sort_reverse)
        return rows

    def _cells(self, cells: Sequence[Any]) -> list[Any]:
        keys = [c.key for c in self.all_columns]
        # Text, not str: an ID like "web[0]" must never be read as markup
        return [_as_text(cells[keys.index(c.key)]) for c in self.shown]

    def _update_dimensions(self, new_rows: Any) -> None:
        """Column widths from the cells' lengths: every row here is one line.

        DataTable measures each new cell by rendering it, which dominates the
        time to show 10,000 rows; a cell's length is the same answer for
        single-line text. Falls back to DataTable when its internals differ.
        """
        try:
            locations, data = self._row_locations, self._data
            columns = self.ordered_columns
            for row_key in new_rows:
                if locations.get(row_key) is None:
                    continue
                row = data[row_key]
                for column in columns:
                    value = row.get(column.key)
                    width = value.cell_len if isinstance(value, Text) else cell_len(str(value))
                    if width > column.content_width:
                        column.content_width = width
            header = self.header_height if self.show_header else 0
            total = sum(c.get_render_width(self) for c in self.columns.values())
            self.virtual_size = Size(total + self._row_label_column_width,
                                     self._total_row_height + header)
        except AttributeError:
            super()._update_dimensions(new_rows)

    def _render_rows(self, force: bool = False) -> None:
        if not self.shown:
            return
        wanted = self._visible()
        current_key = self.current_key
        existing = [str(k.value) for k in self.rows]
        if force or [k for k, _ in wanted] != existing:
            self.clear()
            for key, cells in wanted:
                self.add_row(*self._cells(cells), key=key)
            if current_key is not None and current_key in {k for k, _ in wanted}:
                self.move_cursor(row=self.get_row_index(current_key), scroll=False)
            return
        # same rows in the same order: update only the cells that changed
        for key, cells in wanted:
            old = self.get_row(key)
            for col, (before, after) in zip(self.shown, zip(old, self._cells(cells),
                                                              strict=True), strict=True):
                if _plain(before) != _plain(after) or type(before) is not type(after):
                    self.update_cell(key, col.key, after)

    @property
    def current_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return str(row_key.value) if row_key.value is not None else None
