"""BodyLimit (413 on declared and streamed bodies) and read_body's nesting limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from controlplane.api.common import read_body
from controlplane.api.limits import BodyLimit
from controlplane.errors import NomadError

LIMIT = 1000


async def _echo_size(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


async def _decode(request: Request) -> Response:
    return JSONResponse(await read_body(request))


async def _nomad_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NomadError)
    return PlainTextResponse(exc.message, status_code=exc.status)


def _client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/echo", _echo_size, methods=["PUT"]),
            Route("/big", _echo_size, methods=["PUT"]),
            Route("/decode", _decode, methods=["PUT"]),
        ],
        middleware=[
            Middleware(
                BodyLimit, max_bytes=LIMIT, limits={"/big": 10 * LIMIT, "/decode": 100 * LIMIT}
            )
        ],
        exception_handlers={NomadError: _nomad_error},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"x" * size


async def test_declared_length_over_the_limit_is_refused_with_413() -> None:
    async with _client() as c:
        resp = await c.put("/echo", content=b"x" * (LIMIT + 1))
    assert resp.status_code == 413
    assert resp.text == f"Request body too large: limit is {LIMIT} bytes"
    assert resp.headers["content-type"].startswith("text/plain")


async def test_streamed_body_without_length_is_counted() -> None:
    async with _client() as c:
        over = await c.put("/echo", content=_chunks(5, 300))  # chunked: no Content-Length
        under = await c.put("/echo", content=_chunks(3, 300))
    assert over.status_code == 413
    assert over.text == f"Request body too large: limit is {LIMIT} bytes"
    assert (under.status_code, under.text) == (200, "900")


async def test_body_at_the_limit_passes_and_paths_have_their_own_limit() -> None:
    async with _client() as c:
        exact = await c.put("/echo", content=b"x" * LIMIT)
        big = await c.put("/big", content=b"x" * (5 * LIMIT))
        too_big = await c.put("/big", content=b"x" * (10 * LIMIT + 1))
    assert (exact.status_code, exact.text) == (200, str(LIMIT))
    assert (big.status_code, big.text) == (200, str(5 * LIMIT))
    assert too_big.status_code == 413 and str(10 * LIMIT) in too_big.text


async def test_read_body_refuses_nesting_past_the_limit() -> None:
    async with _client() as c:
        ok = await c.put("/decode", content=b'{"a":' * 63 + b"1" + b"}" * 63)
        deep = await c.put("/decode", content=b'{"a":' * 65 + b"1" + b"}" * 65)
    assert ok.status_code == 200
    assert deep.status_code == 400
    assert (
        deep.text
        == "Failed to decode request body: body is nested too deeply (more than 64 levels)"
    )


async def test_read_body_survives_what_would_overflow_the_decoder() -> None:
    # deeper than Python's recursion limit: the decoder itself gives up
    async with _client() as c:
        deep = await c.put("/decode", content=b"[" * 20_000 + b"]" * 20_000)
    assert deep.status_code == 400
    assert "nested too deeply" in deep.text


async def test_read_body_refuses_bytes_that_are_not_utf8() -> None:
    async with _client() as c:
        resp = await c.put("/decode", content=b"\xb4\xca{}")
    assert resp.status_code == 400
    assert resp.text.startswith("Failed to decode request body")


def _scope(headers: list[tuple[bytes, bytes]], path: str = "/echo") -> dict[str, object]:
    return {"type": "http", "method": "PUT", "path": path, "headers": headers}


async def test_a_declared_length_under_the_limit_is_not_counted_again() -> None:
    # the HTTP server frames the body by its length: the app gets the
    # server's own receive and send, not wrappers
    seen: list[object] = []

    async def app(scope: object, receive: object, send: object) -> None:
        seen.extend([receive, send])

    async def receive() -> dict[str, object]:
        raise AssertionError("not read")

    async def send(message: object) -> None:
        raise AssertionError("nothing sent")

    limit = BodyLimit(app, max_bytes=LIMIT)
    await limit(_scope([(b"content-length", b"10")]), receive, send)
    assert seen == [receive, send]


async def test_a_length_with_a_transfer_encoding_is_still_counted() -> None:
    # were a server to let chunked framing win over Content-Length, the
    # declared length would prove nothing: the body is counted as streamed
    chunks = [b"x" * 600, b"x" * 600]
    sent: list[Message] = []

    async def receive() -> dict[str, object]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    async def app(scope: object, receive: object, send: object) -> None:
        while True:
            message = await receive()  # type: ignore[operator]
            if not message.get("more_body"):
                break

    headers = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    limit = BodyLimit(app, max_bytes=LIMIT)
    await limit(_scope(headers), receive, send)
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == f"Request body too large: limit is {LIMIT} bytes".encode()


async def test_read_body_bounds_the_nesting_of_any_encoding() -> None:
    # few brackets skip the walk; json.loads also reads UTF-16 and UTF-32,
    # where a bracket still holds its byte
    ok = ('{"a":' * 60 + "1" + "}" * 60).encode("utf-16")
    deep = ('{"a":' * 65 + "1" + "}" * 65).encode("utf-32")
    flat = b'{"a": "' + b"[" * 5000 + b'"}'  # brackets in a string count, harmlessly
    async with _client() as c:
        responses = [await c.put("/decode", content=body) for body in (ok, deep, flat)]
    assert [r.status_code for r in responses] == [200, 400, 200]
    assert responses[1].text.endswith("nested too deeply (more than 64 levels)")
