"""EventStream: a thread that follows `GET /v1/event/stream` (API.md §2.8).

It reads NDJSON (`{}` heartbeats dropped), hands each batch of events to
`on_events` and connection changes to `on_status` — both must post messages,
never touch widgets (they run off the UI thread). It reconnects after errors
with a growing back-off, resuming after the last index it saw, and retries a
server without the endpoint (404) slowly.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx

from nomadtui.client import ClientConfig, one_line

log = logging.getLogger(__name__)

# the server sends a `{}` heartbeat every 30 s: silence past this means a dead link
READ_TIMEOUT_S = 45.0
MISSING_RETRY_S = 10.0
MAX_BACKOFF_S = 5.0


class StreamStatus:
    """What the feed shows in its status line."""

    CONNECTING = "connecting"
    LIVE = "live"
    MISSING = "missing"  # the server has no event stream (404)
    ERROR = "error"


class EventStream:
    def __init__(
        self,
        config: ClientConfig,
        topic: str | None,
        on_events: Callable[[list[dict[str, Any]]], None],
        on_status: Callable[[str, str], None],
        start_index: int = 0,
    ) -> None:
        self.config = config
        self.topic = topic
        self.last_index = start_index
        self._on_events = on_events
        self._on_status = on_status
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="event-stream", daemon=True)

    def start(self) -> EventStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        resp = self._response
        if resp is not None:
            # unblocks the reader; the thread then sees the stop flag
            try:
                resp.close()
            except Exception:  # closing a half-read stream from another thread may race
                log.debug("event stream: close raced", exc_info=True)

    def params(self) -> dict[str, str]:
        extra: dict[str, Any] = {"index": self.last_index + 1 if self.last_index else None}
        if self.topic:
            extra["topic"] = self.topic
        return self.config.params(extra)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            self._on_status(StreamStatus.CONNECTING, "")
            try:
                missing = self._follow()
            except (httpx.HTTPError, OSError, ValueError) as exc:
                if self._stop.is_set():
                    return
                self._on_status(StreamStatus.ERROR, str(exc) or type(exc).__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            except Exception as exc:  # a bug must not kill the feed silently
                log.exception("event stream failed")
                self._on_status(StreamStatus.ERROR, f"internal error: {exc}")
                self._stop.wait(MAX_BACKOFF_S)
                continue
            if missing:
                self._stop.wait(MISSING_RETRY_S)
            else:
                backoff = 0.5

    def _follow(self) -> bool:
        """One connection; True when the server has no event stream."""
        timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
        with (
            httpx.Client(
                base_url=self.config.address,
                headers=self.config.headers(),
                timeout=timeout,
                verify=self.config.verify(),
            ) as http,
            http.stream("GET", "/v1/event/stream", params=self.params()) as resp,
        ):
            self._response = resp
            try:
                if resp.status_code == 404:
                    resp.read()
                    self._on_status(StreamStatus.MISSING, one_line(resp.text) or "404")
                    return True
                if not 200 <= resp.status_code < 300:
                    resp.read()
                    raise httpx.HTTPStatusError(
                        f"HTTP {resp.status_code}: {one_line(resp.text)}",
                        request=resp.request,
                        response=resp,
                    )
                self._on_status(StreamStatus.LIVE, "")
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return False
                    self._handle(line)
            finally:
                self._response = None
        return False

    def _handle(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        message = json.loads(line)
        events = [e for e in (message.get("Events") or []) if isinstance(e, dict)]
        index = int(message.get("Index") or 0)
        # after a reconnect the server may replay what we already have
        fresh = [e for e in events if int(e.get("Index") or index) > self.last_index]
        if index > self.last_index:
            self.last_index = index
        if fresh:
            self._on_events(fresh)
