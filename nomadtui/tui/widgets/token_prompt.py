"""TokenPrompt: the modal that asks for an ACL token (masked input).

Dismisses with the secret typed (stripped), or None on `esc`. It only asks:
checking the token and using it are the app's (access.py). The secret is
never drawn: the input is a password field and nothing here logs it.
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class TokenPrompt(ModalScreen[str | None]):
    DEFAULT_CSS = """
    TokenPrompt { align: center middle; }
    TokenPrompt > Vertical {
        width: 64; height: auto; max-width: 95%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    TokenPrompt #token-problem { color: $error; height: auto; }
    TokenPrompt #token-hint { color: $text-muted; height: auto; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="token.cancel")]

    def __init__(self, problem: str = "") -> None:
        super().__init__()
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]ACL token[/b] (the secret ID; NOMAD_TOKEN sets it at start)")
            yield Static(escape(self.problem), id="token-problem")
            yield Input(placeholder="secret ID", password=True, id="token-input")
            yield Static("enter: use it   esc: continue without", id="token-hint")

    def on_mount(self) -> None:
        self.query_one("#token-problem").display = bool(self.problem)
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        secret = event.value.strip()
        if secret:
            self.dismiss(secret)

    def action_cancel(self) -> None:
        self.dismiss(None)
