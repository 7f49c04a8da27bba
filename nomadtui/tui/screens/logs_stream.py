"""LogStream: follows one task's stdout or stderr in a background thread.

The thread reads `GET /v1/client/fs/logs/:alloc?follow=true` through its own
API client, cleans the text (ANSI and control characters) and puts it in a
LogBuffer bounded in size, so a task printing faster than the UI draws can
never grow memory. It calls `on_ready` when the buffer goes from empty to
non-empty (the UI drains it) and `on_status` as the connection changes —
both must only post messages. `stop()` shuts the HTTP socket down, so the
thread ends at once rather than at the next heartbeat. It never touches
widgets.

After an error it reconnects `RESUME_LOOKBACK` bytes before the end and
splices: frame offsets are positions within one rotated file (`web.stdout.3`),
so "resume at offset N" cannot be asked for once a log has rotated; instead
the stream finds the last bytes it already showed in what comes back and
shows only what follows them (ResumeSplicer). When they cannot be found (more
than the look-back was written while disconnected), a marker says so.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx

from controlplane.errors import NomadError
from nomadtui.client import ClientConfig, NomadClient

log = logging.getLogger(__name__)

TAIL_BYTES = 256 * 1024
"""How far back from the end of the log the first read starts."""
MAX_PENDING_CHARS = 1 << 20
"""Undrained text kept for the UI; older text is dropped past this."""
RESUME_LOOKBACK = 256 * 1024
"""How far back from the end a reconnect starts reading."""
RESUME_MATCH = 1024
"""How many of the last bytes shown identify where to resume."""
GAP_MARKER = "\n--- reconnected: some output may be missing or repeated ---\n"

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Log text as plain printable lines: no ANSI escapes, CRs or control bytes."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text.expandtabs(8))


class LogBuffer:
    """Text handed from the stream thread to the UI, bounded to `limit` chars."""

    def __init__(self, limit: int = MAX_PENDING_CHARS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._chunks: list[str] = []
        self._size = 0
        self.dropped_chars = 0

    def put(self, text: str) -> bool:
        """Add `text`; True when the buffer was empty (the UI must be told)."""
        with self._lock:
            was_empty = not self._chunks
            self._chunks.append(text)
            self._size += len(text)
            while self._size > self.limit and len(self._chunks) > 1:
                gone = self._chunks.pop(0)
                self._size -= len(gone)
                self.dropped_chars += len(gone)
            if self._size > self.limit:  # one huge chunk: keep its tail
                keep = self._chunks[0][-self.limit:]
                self.dropped_chars += self._size - len(keep)
                self._chunks[0], self._size = keep, len(keep)
            return was_empty

    def take(self) -> str:
        with self._lock:
            text = "".join(self._chunks)
            self._chunks, self._size = [], 0
            return text


class _AbortableTransport(httpx.HTTPTransport):
    """An HTTP transport whose open response sockets can be shut down from
    another thread: closing a socket does not wake a blocked read, but
    `shutdown()` does."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._aborted = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        stream: Any = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                if self._aborted:
                    _shutdown(sock)
        return response

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class ResumeSplicer:
    """Drops, from a reconnected stream, the bytes that were already shown.

    `seen` is the tail of what was shown before the connection broke; the new
    stream starts somewhere before that point. Bytes are held back until
    `seen` is found (everything up to its end is dropped), the held bytes
    exceed `limit` (gap: show them all), or `flush()` is called because the
    stream went idle without it (gap, when anything was held).
    """

    def __init__(self, seen: bytes, limit: int = RESUME_LOOKBACK) -> None:
        self.seen = seen
        self.limit = limit
        self.done = not seen
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to show now, whether a gap precedes them)."""
        if self.done:
            return data, False
        self._held += data
        at = self._held.find(self.seen)
        if at >= 0:
            self.done = True
            out, self._held = self._held[at + len(self.seen):], b""
            return out, False
        if len(self._held) > self.limit + len(self.seen):
            return self.flush()
        return b"", False

    def flush(self) -> tuple[bytes, bool]:
        """The stream went idle: the look-back has all arrived. Nothing held
        means the log had nothing before this point (a new or truncated
        file), so nothing was missed."""
        if self.done:
            return b"", False
        self.done = True
        out, self._held = self._held, b""
        return out, bool(out)


class LogStream:
    def __init__(
        self,
        config: ClientConfig,
        alloc_id: str,
        task: str,
        stream: str,
        on_ready: Callable[[], object],
        on_status: Callable[[str], object],
        tail_bytes: int = TAIL_BYTES,
    ) -> None:
        self.config = config
        self.alloc_id = alloc_id
        self.task = task
        self.stream = stream
        self.buffer = LogBuffer()
        self._on_ready = on_ready
        self._on_status = on_status
        # the first read starts `tail_bytes` before the end; later ones
        # splice on the last bytes shown (`_seen`)
        self._tail_bytes = tail_bytes
        self._seen = b""
        self._connections = 0
        self._stop = threading.Event()
        self._transport = _AbortableTransport()
        self._thread = threading.Thread(
            target=self.run, name=f"logs-{alloc_id[:8]}-{task}-{stream}", daemon=True
        )

    def start(self) -> LogStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._transport.abort()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _put(self, text: str) -> None:
        if text and self.buffer.put(text):
            self._on_ready()

    def run(self) -> None:
        cfg = self.config
        client = NomadClient(
            address=cfg.address, token=cfg.token, namespace=cfg.namespace,
            region=cfg.region, timeout=cfg.timeout, transport=self._transport, tls=cfg.tls,
        )
        backoff = 0.5
        try:
            while not self._stop.is_set():
                self._on_status("connecting")
                try:
                    self._follow(client)
                    if self._stop.is_set():
                        return
                    self._on_status("stream ended; reconnecting")
                    backoff = 0.5
                except NomadError as exc:
                    if self._stop.is_set():
                        return
                    self._on_status(f"error: {exc}; retrying")
                except Exception as exc:  # a bug must not end following silently
                    if self._stop.is_set():
                        return
                    log.exception("log stream alloc_id=%s task=%s failed",
                                  self.alloc_id, self.task)
                    self._on_status(f"internal error: {exc}; retrying")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        finally:
            client.close()

    def _follow(self, client: NomadClient) -> None:
        """One connection: the first starts `tail_bytes` before the end, later
        ones `RESUME_LOOKBACK` before it, spliced on what was already shown."""
        first = self._connections == 0
        self._connections += 1
        offset = self._tail_bytes if first else RESUME_LOOKBACK
        splicer = ResumeSplicer(b"" if first else self._seen)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        connected = False
        fragment = first
        for frame in client.stream_logs(
            self.alloc_id, self.task, self.stream, follow=True,
            origin="end", offset=offset, heartbeats=True,
        ):
            if self._stop.is_set():
                break
            if not connected:
                self._on_status("streaming")
                connected = True
            if frame.file_event:
                self._put(f"\n--- {frame.file or 'log'}: {frame.file_event} ---\n")
            data, gap = splicer.feed(frame.data) if frame.data else splicer.flush()
            if gap:
                self._put(GAP_MARKER)
            if not data:
                continue
            self._seen = (self._seen + data)[-RESUME_MATCH:]
            text = decoder.decode(data)
            if fragment and frame.offset - len(frame.data) > 0:
                # started part-way into the file: the first line is a fragment
                text = text.partition("\n")[2]
            fragment = False
            self._put(clean(text))
