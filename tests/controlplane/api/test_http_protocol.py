"""CoalescingTransport: a response's head and body leave in one write, nothing
is reordered, lost, held past the loop iteration or held when large; and a
real uvicorn serving through HttpProtocol answers plain and streamed requests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from controlplane.api.http_protocol import HOLD_MAX_BYTES, CoalescingTransport, HttpProtocol


class _Transport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(("writelines", list(chunks)))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", None))

    def abort(self) -> None:
        self.calls.append(("abort", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _wrapped() -> tuple[CoalescingTransport, _Transport]:
    inner = _Transport()
    return CoalescingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def _next_iteration() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_head_and_body_leave_in_one_write() -> None:
    t, inner = _wrapped()
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(b"body")
    assert inner.calls == [("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"body"])]
    t.write(b"more")  # held again, then sent at the end of the iteration
    assert len(inner.calls) == 1
    await _next_iteration()
    assert inner.calls[1:] == [("write", b"more")]


async def test_a_lone_write_is_sent_by_the_end_of_the_iteration() -> None:
    t, inner = _wrapped()
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert inner.calls == []
    await _next_iteration()
    assert inner.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]


async def test_a_large_write_is_not_held() -> None:
    t, inner = _wrapped()
    big = b"x" * (HOLD_MAX_BYTES + 1)
    t.write(big)
    assert inner.calls == [("write", big)]


async def test_close_sends_what_is_held_first_and_abort_drops_it() -> None:
    t, inner = _wrapped()
    t.write(b"bye")
    t.close()
    assert inner.calls == [("write", b"bye"), ("close", None)]
    await _next_iteration()
    assert len(inner.calls) == 2  # not sent twice

    t, inner = _wrapped()
    t.write(b"lost")
    t.abort()
    await _next_iteration()
    assert inner.calls == [("abort", None)]


async def test_nothing_is_written_to_a_closing_transport() -> None:
    t, inner = _wrapped()
    t.write(b"late")
    inner.closing = True  # the peer went away meanwhile
    await _next_iteration()
    assert inner.calls == []


async def test_everything_else_passes_through() -> None:
    t, _ = _wrapped()
    assert t.get_extra_info("peername") == "info:peername"
    assert t.is_closing() is False


async def _plain(request: Request) -> Response:
    return PlainTextResponse("hello " + request.path_params["name"])


async def _stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            yield f"{i}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


async def test_uvicorn_answers_through_http_protocol() -> None:
    app = Starlette(
        routes=[Route("/hello/{name}", _plain), Route("/stream", _stream)],
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=HttpProtocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            answers = await asyncio.gather(*(c.get(f"/hello/{i}") for i in range(20)))
            connections = server.server_state.connections
            assert connections
            assert all(isinstance(p.transport, CoalescingTransport) for p in connections)
            streamed = await c.get("/stream")
            missing = await c.get("/nowhere")
        assert [a.text for a in answers] == [f"hello {i}" for i in range(20)]
        assert streamed.text == "".join(f"{i}\n" for i in range(50))
        assert missing.status_code == 404
    finally:
        server.should_exit = True
        await serving
        sock.close()
