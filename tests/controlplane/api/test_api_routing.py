"""IndexedRouter picks what Starlette's Router picks, and ApiRoute renders errors as before.

Both routers get the real route table (paths and methods, with a recording
endpoint) and every path a route template yields, with and without a
trailing slash, near misses, and every method: the route chosen (with its
path parameters), 405, the slash redirect and 404 must all be the same.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Message, Scope

from controlplane.api.app import (
    AGENT_ROUTES,
    SERVER_ROUTES,
    ApiRoute,
    IndexedRouter,
    _http_error,
    _nomad_error,
    _unexpected,
)
from controlplane.errors import NomadError, NotFound

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]


async def _record(request: Request) -> Response:
    return JSONResponse(
        {"route": request.scope["route"].path, "params": request.path_params}, status_code=299
    )


def _tables() -> tuple[Router, IndexedRouter]:
    table = [
        Route(r.path, _record, methods=sorted(r.methods or ()))
        for r in SERVER_ROUTES + AGENT_ROUTES
        if isinstance(r, Route)
    ]
    return Router(table), IndexedRouter(table)


def _paths() -> list[str]:
    out = {"/", "", "/v1", "/v1/", "/v2/jobs", "/v1/jobsx", "//v1/jobs", "/v1//jobs", "/x/y/z"}
    for route in SERVER_ROUTES + AGENT_ROUTES:
        assert isinstance(route, Route)
        for sample in ("x", "a/b", "a%2Fb", "e/allocations", "x/"):
            path = re.sub(r"{[^}]+}", sample, route.path)
            out |= {path, path + "/", path.rstrip("/"), path + "x", path + "/extra"}
    return sorted(out)


async def _outcome(router: Router, method: str, path: str, root_path: str = "") -> Any:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("127.0.0.1", 4646),
        "root_path": root_path,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:4646")],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await router(scope, receive, send)
    except HTTPException as exc:  # 405: rendered by the app's handler
        return ("raised", exc.status_code, exc.headers)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return (start["status"], sorted(start["headers"]), body, scope.get("route"))


async def test_indexed_router_chooses_what_starlettes_router_chooses() -> None:
    plain, indexed = _tables()
    paths = _paths()
    assert len(paths) > 500
    for path in paths:
        for method in METHODS:
            expected = await _outcome(plain, method, path)
            assert await _outcome(indexed, method, path) == expected, (method, path)


async def test_indexed_router_with_a_root_path() -> None:
    plain, indexed = _tables()
    for path in ("/api/v1/jobs", "/api/v1/job/x/", "/api", "/apiv1/jobs", "/v1/jobs"):
        for method in ("GET", "PUT"):
            expected = await _outcome(plain, method, path, root_path="/api")
            assert await _outcome(indexed, method, path, root_path="/api") == expected


def test_every_route_of_a_bucket_is_tried_in_table_order() -> None:
    _, indexed = _tables()
    # the catch-all job route must come after the suffix routes before it
    tried = [r.path for r in indexed.candidates("/v1/job/x/services")]  # type: ignore[attr-defined]
    assert tried.index("/v1/job/{job_id:path}/services") < tried.index("/v1/job/{rest:path}")
    # a bucket holds only its routes: the internal ones are not behind 70 others
    assert len(indexed.candidates("/v1/internal/allocs/update")) < 10


async def _boom(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind == "nomad":
        raise NotFound("job not found")
    if kind == "http":
        raise HTTPException(status_code=409, detail="conflict")
    raise RuntimeError("kaput")


def _app() -> Starlette:
    return Starlette(
        routes=[ApiRoute("/boom/{kind}", _boom, methods=["GET"])],
        exception_handlers={
            NomadError: _nomad_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )


async def test_api_route_errors_are_rendered_by_the_apps_handlers() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        nomad = await c.get("/boom/nomad")
        http = await c.get("/boom/http")
        other = await c.get("/boom/other")
        method = await c.put("/boom/nomad")
    assert (nomad.status_code, nomad.text) == (404, "job not found")
    assert (http.status_code, http.text) == (409, "conflict")
    assert (other.status_code, other.text) == (500, "internal error: kaput")
    assert (method.status_code, method.text) == (405, "Invalid method")


def test_api_route_wants_a_coroutine_endpoint() -> None:
    def sync(request: Request) -> Response:
        return Response()

    with pytest.raises(AssertionError):
        ApiRoute("/x", sync, methods=["GET"])  # type: ignore[arg-type]
