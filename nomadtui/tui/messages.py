"""Messages the console's workers post (workers never touch widgets)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class DataChanged(Message):
    """A watch on the screen's resource got new data."""

    def __init__(self, source: str, data: Any) -> None:
        super().__init__()
        self.source = source
        self.data = data


class ConnectionChanged(Message):
    """The API answered again (error == "") or stopped answering."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class WatchFailed(Message):
    """The server answered a watch with an error (not found, permission ...)."""

    def __init__(self, source: str, error: str) -> None:
        super().__init__()
        self.source = source
        self.error = error


class AccessDenied(Message):
    """The agent answered a watch with 403 (no token, unknown token, no rights)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
