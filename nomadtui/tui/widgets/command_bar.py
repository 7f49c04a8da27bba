"""CommandBar: the `:` prompt (`:jobs`, `:nodes`, `:ns NAME`, `:q` ...), k9s style."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class CommandBar(Input):
    DEFAULT_CSS = """
    CommandBar { dock: bottom; height: 3; display: none; }
    CommandBar.open { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Submitted(Message):
        def __init__(self, command: str) -> None:
            super().__init__()
            self.command = command

    def __init__(self, commands: list[str]) -> None:
        super().__init__(placeholder=":" + " :".join(commands), id="command-bar")
        self.commands = commands

    def open(self) -> None:
        self.value = ""
        self.add_class("open")
        self.focus()

    def action_close(self) -> None:
        self.remove_class("open")
        self.value = ""
        self.screen.focus_next()

    async def action_submit(self) -> None:
        command = self.value.strip().lstrip(":")
        self.action_close()
        if command:
            self.post_message(self.Submitted(command))
