"""NamespacePicker: the modal list of namespaces the token can see, plus `*`.

Opened with `n` or a bare `:ns`. It reads `/v1/namespaces` once, off the UI
thread (the agent lists only the namespaces the token may see), and
dismisses with the chosen name, `*`, QUOTAS (`u`: open the quota view), or
None on `esc`. Switching is the app's (`set_namespace`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from controlplane.errors import NomadError
from nomadtui.client import NomadClient, one_line

ALL = "*"


def option_label(name: str, quota: str, description: str, current: str, width: int = 56) -> Text:
    """`● name  quota:q  description`, in fixed columns, cut to `width`."""
    text = Text("● " if name == current else "  ", style="green")
    text.append(name.ljust(12), style="bold")
    text.append(" ")
    text.append((f"quota:{quota}" if quota else "").ljust(13), style="cyan")
    text.append(" ")
    text.append(description, style="dim")
    text.truncate(width, overflow="ellipsis")
    return text


class NamespacePicker(ModalScreen[str | None]):
    QUOTAS: ClassVar[str] = "\0quotas"
    """Dismissed with this when the user asks for the quota view."""

    DEFAULT_CSS = """
    NamespacePicker { align: center middle; }
    NamespacePicker > Vertical {
        width: 64; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    NamespacePicker #ns-title { height: 1; text-style: bold; }
    NamespacePicker #ns-list { height: auto; max-height: 14; border: none; }
    NamespacePicker #ns-note { height: auto; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="namespaces.cancel"),
        Binding("u", "quotas", "Quotas", id="namespaces.quotas"),
    ]

    def __init__(self, client: NomadClient) -> None:
        super().__init__()
        self.client = client
        self.current = client.config.namespace or "default"
        self.namespaces: list[dict[str, Any]] = []
        self.error = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Namespace", id="ns-title")
            yield OptionList(id="ns-list")
            yield Static("loading namespaces…", id="ns-note")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        client = self.client

        def work() -> None:
            try:
                data = client.get("/v1/namespaces").data or []
            except NomadError as exc:
                self.app.call_from_thread(self._show, [], one_line(str(exc)))
                return
            self.app.call_from_thread(self._show, list(data), "")

        self.run_worker(work, thread=True, exit_on_error=False)

    def _show(self, namespaces: list[dict[str, Any]], error: str) -> None:
        self.namespaces = sorted(namespaces, key=lambda n: str(n.get("Name", "")))
        self.error = error
        options = [
            Option(
                option_label(
                    name, str(ns.get("Quota") or ""), str(ns.get("Description") or ""), self.current
                ),
                id=name,
            )
            for ns in self.namespaces
            for name in [str(ns.get("Name", ""))]
        ]
        options.append(
            Option(option_label(ALL, "", "every namespace you can see", self.current), id=ALL)
        )
        listing = self.query_one(OptionList)
        listing.clear_options()
        listing.add_options(options)
        ids = [o.id for o in options]
        listing.highlighted = ids.index(self.current) if self.current in ids else 0
        note = "enter: switch   u: quota usage   esc: close"
        if error:
            note = f"[red]cannot list namespaces: {escape(error)}[/red]\n{note}"
        self.query_one("#ns-note", Static).update(note)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss(event.option.id)

    def action_quotas(self) -> None:
        self.dismiss(self.QUOTAS)

    def action_cancel(self) -> None:
        self.dismiss(None)
