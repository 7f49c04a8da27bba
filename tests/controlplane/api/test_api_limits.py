"""BodyLimit (413 on declared and streamed bodies) and read_body's nesting limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

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
