"""A view that is not built yet: says so instead of failing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Static

from .base import ConsoleScreen, ContextBar


class PlaceholderScreen(ConsoleScreen):
    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def context_text(self) -> str:
        return self.title_text

    def compose(self) -> ComposeResult:
        yield ContextBar(self.context_text(), id="context")
        yield Static(f"{self.title_text}: this view is not available yet.", id="body")
        yield Footer()
