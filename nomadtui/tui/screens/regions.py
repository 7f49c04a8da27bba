"""RegionPicker: the modal list of the cluster's regions (`/v1/regions`).

Opened with a bare `:region`. It reads the list once, off the UI thread,
and dismisses with the chosen region, or None on `esc`. Any server answers
for every region (it forwards), so switching is only the app's client
sending `?region=` from then on (`ConsoleApp.set_region`).
"""

from __future__ import annotations

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


def option_label(name: str, current: str) -> Text:
    text = Text("● " if name == current else "  ", style="green")
    text.append(name, style="bold")
    return text


class RegionPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    RegionPicker { align: center middle; }
    RegionPicker > Vertical {
        width: 40; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    RegionPicker #region-title { height: 1; text-style: bold; }
    RegionPicker #region-list { height: auto; max-height: 14; border: none; }
    RegionPicker #region-note { height: auto; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="regions.cancel")]

    def __init__(self, client: NomadClient) -> None:
        super().__init__()
        self.client = client
        # no region asked for: the agent's own answers (shown unmarked)
        self.current = client.config.region or ""
        self.regions: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Region", id="region-title")
            yield OptionList(id="region-list")
            yield Static("loading regions…", id="region-note")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        client = self.client

        def work() -> None:
            try:
                data = client.get("/v1/regions").data or []
            except NomadError as exc:
                self.app.call_from_thread(self._show, [], one_line(str(exc)))
                return
            self.app.call_from_thread(self._show, [str(r) for r in data], "")

        self.run_worker(work, thread=True, exit_on_error=False)

    def _show(self, regions: list[str], error: str) -> None:
        self.regions = sorted(regions)
        listing = self.query_one(OptionList)
        listing.clear_options()
        listing.add_options([Option(option_label(r, self.current), id=r) for r in self.regions])
        listing.highlighted = (
            self.regions.index(self.current) if self.current in self.regions else 0
        )
        note = "enter: switch   esc: close"
        if error:
            note = f"[red]cannot list regions: {escape(error)}[/red]\n{note}"
        self.query_one("#region-note", Static).update(note)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
