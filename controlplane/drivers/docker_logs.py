"""Copies a container's stdout / stderr into the task's rotating log files.

One LogFollower per stream follows `docker logs --timestamps` and writes each
entry (without its timestamp) through RotatingLog. Next to the log files it
keeps a position file, `.<task>.<stream>.position`, rewritten in place after
every entry; a follower started after a client restart reads it and resumes
right after the last entry written, so no line is written twice or lost.
Never interprets log content and never touches the container itself.

Position: {"container_id", "anchor_ns", "anchor_bytes", "anchor_complete",
"index", "size"}: the newest entry written was stamped `anchor_ns`; entries
stamped exactly `anchor_ns` hold `anchor_bytes` bytes of the files (the
engine splits long lines into entries with one stamp), the last of them
ending a line or not; the files ended at `<task>.<stream>.<index>` byte
`size`. Bytes the files hold past (`index`, `size`) are the one entry a
killed client wrote but had not yet recorded; they are dropped from the next
new entry.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from datetime import datetime
from typing import Any

import docker
import docker.errors

from controlplane.drivers.logrotate import RotatingLog, log_indexes, split_log_path

log = logging.getLogger(__name__)

_RECORD_BYTES = 256  # fixed size: each save overwrites the whole record


def position_path(first_log_path: str) -> str:
    directory, base = split_log_path(first_log_path)
    return os.path.join(directory, f".{base}.position")


def parse_timestamp(text: bytes) -> int | None:
    """Docker's RFC3339Nano (`2024-05-01T10:00:00.123456789Z`) -> unix ns."""
    try:
        raw = text.decode("ascii")
        whole, dot, rest = raw.partition(".")
        frac = ""
        if dot:
            digits = len(rest) - len(rest.lstrip("0123456789"))
            frac, rest = rest[:digits], rest[digits:]
        stamp = datetime.fromisoformat(whole + (rest if rest != "Z" else "+00:00"))
    except (UnicodeDecodeError, ValueError):
        return None
    return int(stamp.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


class LogFollower:
    """Follows one stream of one container until it exits or `close()`."""

    def __init__(
        self,
        api: docker.APIClient,
        container_id: str,
        first_path: str,
        stdout: bool,
        max_files: int,
        max_file_size_mb: int,
        resume: bool,
        tty: bool = False,
    ) -> None:
        self.api = api
        self.cid = container_id
        self.first_path = first_path
        self.stdout = stdout
        self.max_files = max_files
        self.max_file_size_mb = max_file_size_mb
        self.resume = resume
        self.tty = tty
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._thread = threading.Thread(
            target=self._run,
            name=f"docker-logs-{container_id[:12]}-{'out' if stdout else 'err'}",
            daemon=True,
        )
        # position: see the module docstring
        self._anchor_ns = 0
        self._anchor_bytes = 0
        self._anchor_complete = True  # its last entry ended a line
        self._seen = 0  # bytes stamped at the anchor the current pass has sent
        self._unrecorded = 0  # bytes written by a killed client, not recorded
        self._position_fd = -1

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        """Stop following (the position is saved); the container is untouched."""
        self._closing.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    # -- the follower thread ---------------------------------------------------

    def _run(self) -> None:
        out: RotatingLog | None = None
        try:
            out = RotatingLog(self.first_path, self.max_files, self.max_file_size_mb)
            if self.resume:
                self._load_position()
            self._save_position(out)
            while not self._closing.is_set():
                # The engine ends a follow when the container exits, possibly
                # before sending everything (json-file); so after an exit one
                # more plain read from the position collects the rest.
                running = self._running()
                self._copy_stream(out, follow=running)
                self._save_position(out)
                if not running:
                    return
        except Exception as e:  # loop boundary: a log copy must never take the client down
            # a container removed under us (task destroyed) is the normal end
            gone = isinstance(e, docker.errors.APIError) and e.status_code in (404, 409)
            quiet = gone or self._closing.is_set()
            log.log(
                logging.DEBUG if quiet else logging.WARNING,
                "log copy for container %s ended: %s",
                self.cid[:12],
                e,
            )
        finally:
            if out is not None:
                with contextlib.suppress(Exception):
                    self._save_position(out)
                out.close()
            if self._position_fd >= 0:
                os.close(self._position_fd)

    def _copy_stream(self, out: RotatingLog, follow: bool) -> None:
        # Whole seconds, rounded down: entries older than the anchor are
        # dropped here by their own timestamps.
        since = self._anchor_ns // 1_000_000_000 or None
        self._seen = 0
        stream = self.api.logs(
            self.cid,
            stdout=self.stdout,
            stderr=not self.stdout,
            stream=True,
            follow=follow,
            timestamps=True,
            since=since,
        )
        with self._lock:
            self._stream = stream
        try:
            if self._closing.is_set():
                return
            if self.tty:
                self._copy_lines(stream, out)
            else:
                for frame in stream:  # one frame is one log entry
                    self._entry(frame, out)
        finally:
            with self._lock:
                self._stream = None
            with contextlib.suppress(Exception):
                stream.close()

    def _copy_lines(self, stream: Any, out: RotatingLog) -> None:
        """A TTY's stream is not framed: entries are its lines."""
        pending = b""
        for chunk in stream:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._entry(line + b"\n", out)
        if pending:
            self._entry(pending, out)

    def _entry(self, entry: bytes, out: RotatingLog) -> None:
        """Write one entry unless the files already hold it.

        The engine sends entries again: from the position on a resume, and
        (json-file) from its rotated file after rotating its log under a
        follow. Entries stamped before the anchor are repeats. So are the
        anchor's first `anchor_bytes` bytes each time they come by; they
        come by again after an older entry, or when the anchor's stamp shows
        up after a complete line (the pieces of a split line share a stamp,
        distinct lines never do).
        """
        stamp, _, data = entry.partition(b" ")
        ts = parse_timestamp(stamp)
        if ts is None:  # not stamped (never expected): keep the bytes as they are
            out.write(entry)
            return
        if ts < self._anchor_ns:
            self._seen = 0
            return
        ends_line = data.endswith(b"\n")
        if ts == self._anchor_ns and self._anchor_bytes:
            if self._seen >= self._anchor_bytes and self._anchor_complete:
                self._seen = 0
            if self._seen < self._anchor_bytes:
                repeated = min(self._anchor_bytes - self._seen, len(data))
                self._seen += len(data)
                self._append(ts, data[repeated:], len(data) - repeated, ends_line, out)
                return
        elif ts != self._anchor_ns:
            self._seen = 0
        # what a killed client wrote but did not record is the next new bytes
        dropped = min(self._unrecorded, len(data))
        self._unrecorded -= dropped
        self._seen += len(data)
        self._append(ts, data[dropped:], len(data), ends_line, out)

    def _append(
        self, ts: int, data: bytes, counted: int, ends_line: bool, out: RotatingLog
    ) -> None:
        """Write `data`; `counted` more bytes stamped `ts` are in the files."""
        if data:
            out.write(data)
        if not counted:
            return
        if ts == self._anchor_ns:
            self._anchor_bytes += counted
        else:
            self._anchor_ns, self._anchor_bytes = ts, counted
        self._anchor_complete = ends_line
        self._save_position(out)

    def _running(self) -> bool:
        try:
            return bool(self.api.inspect_container(self.cid)["State"].get("Running"))
        except docker.errors.NotFound:
            return False

    # -- the position file ---------------------------------------------------------

    def _save_position(self, out: RotatingLog) -> None:
        # One small in-place write per entry: cheap, and a killed process
        # leaves either the old record or the new one.
        record = (
            f'{{"container_id": "{self.cid}", "anchor_ns": {self._anchor_ns}, '
            f'"anchor_bytes": {self._anchor_bytes}, '
            f'"anchor_complete": {"true" if self._anchor_complete else "false"}, '
            f'"index": {out.index}, "size": {os.path.getsize(out.path)}}}'
        ).encode()
        if self._position_fd < 0:
            path = position_path(self.first_path)
            self._position_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.pwrite(self._position_fd, record.ljust(_RECORD_BYTES - 1) + b"\n", 0)

    def _load_position(self) -> None:
        try:
            with open(position_path(self.first_path), "rb") as f:
                record = json.loads(f.read())
        except (OSError, ValueError):
            record = None
        if not isinstance(record, dict) or record.get("container_id") != self.cid:
            self._resume_from_mtime()
            return
        self._anchor_ns = int(record["anchor_ns"])
        self._anchor_bytes = int(record["anchor_bytes"])
        self._anchor_complete = bool(record.get("anchor_complete", True))
        self._unrecorded = self._grown_since(int(record["index"]), int(record["size"]))

    def _grown_since(self, index: int, size: int) -> int:
        """Bytes the log files gained after (`index`, `size`)."""
        directory, base = split_log_path(self.first_path)
        indexes = log_indexes(directory, base)
        if index not in indexes:
            if indexes and indexes[0] > index:
                log.warning(
                    "log files of container %s rotated past the saved position",
                    self.cid[:12],
                )
            grown = 0
        else:
            grown = max(0, os.path.getsize(os.path.join(directory, f"{base}.{index}")) - size)
        newer = (os.path.join(directory, f"{base}.{i}") for i in indexes if i > index)
        return grown + sum(os.path.getsize(p) for p in newer)

    def _resume_from_mtime(self) -> None:
        """No position for this container (written by an older client): resume
        after the last write to the newest log file, if any."""
        directory, base = split_log_path(self.first_path)
        indexes = log_indexes(directory, base)
        if not indexes:
            return
        newest = os.path.join(directory, f"{base}.{indexes[-1]}")
        with contextlib.suppress(OSError):
            if os.path.getsize(newest) > 0:
                self._anchor_ns = os.stat(newest).st_mtime_ns
