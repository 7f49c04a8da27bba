"""Log stream framing: concatenated JSON frames, split anywhere, heartbeats."""

from __future__ import annotations

import base64
import json

import httpx

from nomadtui.client import FrameDecoder, NomadClient


def _frame(data: bytes, offset: int, file: str = "alloc/logs/web.stdout.0") -> str:
    return json.dumps({"Offset": offset, "Data": base64.b64encode(data).decode(), "File": file})


def test_concatenated_frames_without_separators() -> None:
    stream = (_frame(b"hello\n", 6) + "{}" + _frame("héllo\n".encode(), 13)).encode()
    frames = FrameDecoder().feed(stream)
    assert [f.data for f in frames] == [b"hello\n", b"", "héllo\n".encode()]
    assert [f.is_heartbeat for f in frames] == [False, True, False]
    assert frames[0].file == "alloc/logs/web.stdout.0"
    assert frames[2].offset == 13


def test_frames_split_at_every_byte_boundary() -> None:
    stream = (
        "\n" + _frame(b"a", 1, file="alloc/logs/t\u00e9.stdout.0") + " {} " + _frame(b"b", 2)
    ).encode()
    decoder = FrameDecoder()
    frames = []
    for i in range(len(stream)):
        frames += decoder.feed(stream[i : i + 1])
    assert [f.data for f in frames if not f.is_heartbeat] == [b"a", b"b"]
    assert frames[0].file == "alloc/logs/t\u00e9.stdout.0"
    assert decoder.pending == ""


def test_file_event_frame_is_not_a_heartbeat() -> None:
    (frame,) = FrameDecoder().feed(b'{"FileEvent": "file truncated"}')
    assert frame.file_event == "file truncated"
    assert not frame.is_heartbeat


def test_stream_logs_drops_heartbeats_and_decodes_base64() -> None:
    seen: list[httpx.Request] = []
    body = ("{}" + _frame(b"line1\n", 6) + "{}{}" + _frame(b"line2\n", 12)).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body)

    client = NomadClient(env={}, transport=httpx.MockTransport(handler))
    frames = list(client.stream_logs("a1", "web", "stderr", follow=True, origin="end", offset=1200))
    assert b"".join(f.data for f in frames) == b"line1\nline2\n"
    assert all(not f.is_heartbeat for f in frames)
    params = seen[0].url.params
    assert seen[0].url.path == "/v1/client/fs/logs/a1"
    assert (
        params["task"],
        params["type"],
        params["follow"],
        params["origin"],
        params["offset"],
    ) == ("web", "stderr", "true", "end", "1200")
