"""Watch: a background blocking-query loop for one API read.

A Watch calls `fetch(index)` (an API client read with `?index=&wait=`) in a
thread, and hands each new result to `on_data` — which must post a message,
never touch widgets (it runs off the UI thread). Errors go to `on_error`
with a growing back-off (an unreachable agent and a server's refusal alike);
the watch retries until stopped. Because the server
answers a blocking query as soon as the index moves, changes arrive within
milliseconds without polling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import Response

log = logging.getLogger(__name__)

WAIT_S = 5.0
"""Blocking-query wait: also how long a stopped watch may linger."""


class Watch:
    def __init__(
        self,
        name: str,
        fetch: Callable[[int], Response],
        on_data: Callable[[Any], None],
        on_error: Callable[[NomadError], None] | None = None,
    ) -> None:
        self.name = name
        self._fetch = fetch
        self._on_data = on_data
        self._on_error = on_error
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()

    def refresh(self) -> None:
        """Fetch again now, without waiting for a change (ctrl+r)."""
        self._kick.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        index = 0
        backoff = 0.5
        while not self._stop.is_set():
            try:
                resp = self._fetch(0 if self._kick.is_set() else index)
            except NomadError as exc:
                if self._stop.is_set():
                    return
                if self._on_error is not None:
                    self._on_error(exc)
                self._kick.wait(backoff)
                self._kick.clear()
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception as exc:  # a bug must not kill the watch silently
                log.exception("watch %s failed", self.name)
                if self._on_error is not None:
                    self._on_error(NomadError(f"internal error: {exc}"))
                self._kick.wait(backoff)
                continue
            backoff = 0.5
            self._kick.clear()
            if self._stop.is_set():
                return
            new_index = resp.index or 0
            if new_index != index or new_index == 0:
                self._on_data(resp.data)
            if new_index == 0:
                # a server that does not block (no index header): don't spin
                self._kick.wait(1.0)
            index = new_index
