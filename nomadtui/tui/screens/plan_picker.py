"""FilePickerScreen: the modal that asks which job file to plan.

Dismisses with the chosen path (relative to the working directory when it
lies below it), or None on `esc`. Reading and parsing are the plan screen's.
"""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..widgets.file_picker import FilePicker


def display_path(path: str) -> str:
    """`path` relative to the working directory when it is below it."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


class FilePickerScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    FilePickerScreen { align: center middle; }
    FilePickerScreen > Vertical {
        width: 100; max-width: 100%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    FilePickerScreen #picker-title { height: 1; text-style: bold; margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

    def __init__(self, start: str | None = None) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Plan a job file", id="picker-title")
            yield FilePicker(self.start, id="picker")

    def on_file_picker_picked(self, message: FilePicker.Picked) -> None:
        self.dismiss(display_path(message.path))

    def action_cancel(self) -> None:
        self.dismiss(None)
