"""Decoding of Nomad's framed log/file streams (concatenated JSON StreamFrames).

Owns the incremental decoder only; it knows nothing about HTTP, so the sync
and async clients feed it the same way.
"""

from __future__ import annotations

import base64
import codecs
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StreamFrame:
    """One frame: `data` is already base64-decoded. A frame with every field
    empty is a heartbeat."""

    offset: int = 0
    data: bytes = b""
    file: str = ""
    file_event: str = ""

    @property
    def is_heartbeat(self) -> bool:
        return not (self.offset or self.data or self.file or self.file_event)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> StreamFrame:
        raw = obj.get("Data") or ""
        return cls(
            offset=int(obj.get("Offset") or 0),
            data=base64.b64decode(raw) if raw else b"",
            file=obj.get("File") or "",
            file_event=obj.get("FileEvent") or "",
        )


class FrameDecoder:
    """Feed bytes as they arrive; get back the frames completed so far.

    Frames are concatenated JSON objects with arbitrary (or no) whitespace
    between them, and a chunk boundary may split a frame or a UTF-8 sequence.
    """

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buf = ""

    def feed(self, chunk: bytes) -> list[StreamFrame]:
        self._buf += self._text.decode(chunk)
        frames: list[StreamFrame] = []
        pos = 0
        while True:
            while pos < len(self._buf) and self._buf[pos].isspace():
                pos += 1
            if pos >= len(self._buf):
                break
            try:
                obj, end = self._json.raw_decode(self._buf, pos)
            except json.JSONDecodeError:
                break  # incomplete frame: wait for more bytes
            if isinstance(obj, dict):
                frames.append(StreamFrame.from_json(obj))
            pos = end
        self._buf = self._buf[pos:]
        return frames

    @property
    def pending(self) -> str:
        """Undecoded text left over (non-empty at end of stream means truncation)."""
        return self._buf
