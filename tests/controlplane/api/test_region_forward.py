"""Which region a job write's body or query names (Nomad's regionForJob precedence),
and the one decode of a job body shared with the handler."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from controlplane.api.common import DECODED_BODY, read_body
from controlplane.api.region_forward import RegionForward, _query_region, body_region
from controlplane.errors import NomadError


@pytest.mark.parametrize(
    ("body", "region"),
    [
        ({"Job": {"ID": "x", "Region": "b"}}, "b"),
        ({"job": {"region": "b"}}, "b"),  # Go decodes keys case-insensitively
        ({"Region": "c", "Job": {"Region": "b"}}, "c"),  # the body's Region first
        ({"Job": {"Region": "global"}}, ""),  # global means this agent's region
        ({"Job": {"ID": "x"}}, ""),
        ({"Job": {"Region": 7}}, ""),
        ({"Payload": "aGk=", "Meta": {}}, ""),
        ([1, 2], ""),
    ],
)
def test_body_region(body: object, region: str) -> None:
    assert body_region(json.dumps(body).encode()) == region


def test_body_that_is_no_json_names_no_region() -> None:
    assert body_region(b"job { x }") == ""
    assert body_region(b"") == ""


def test_body_nested_past_the_decoders_stack_names_no_region() -> None:
    # the handler refuses it with a 400; here it must not raise (that was a 500)
    deep = b"[" * 200_000 + b"]" * 200_000
    assert body_region(deep) == ""


@pytest.mark.parametrize(
    "qs",
    [
        b"",
        b"region=b",
        b"namespace=x&region=b",
        b"region=&region=c",
        b"reg%69on=d",
        b"%72egion=e",
        b"Region=f",
        b"region",
        b"region=g+h",
        b"x=1&y=%20",
        b"regions=a",
        b"a=region",
        b"index=5&wait=10s",
    ],
)
def test_query_region_is_what_parse_qs_reads(qs: bytes) -> None:
    expected = (parse_qs(qs.decode("latin-1")).get("region") or [""])[0]
    assert _query_region(qs) == expected


class _Agent:
    config = SimpleNamespace(region="global")
    server = None


async def test_a_job_body_is_decoded_once_for_region_and_handler() -> None:
    seen: list[Any] = []

    async def register(request: Request) -> Response:
        body = await read_body(request)
        seen.append((body, request.scope.get(DECODED_BODY)))
        return JSONResponse(body)

    async def nomad_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NomadError)
        return PlainTextResponse(exc.message, status_code=exc.status)

    app = Starlette(
        routes=[Route("/v1/jobs", register, methods=["PUT"])],
        middleware=[Middleware(RegionForward, agent=_Agent())],  # type: ignore[arg-type]
        exception_handlers={NomadError: nomad_error},
    )
    job = {"Job": {"ID": "x", "Region": "global", "Meta": {"a": [1, {"b": None}]}}}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        ok = await c.put("/v1/jobs", content=json.dumps(job))
        bad = await c.put("/v1/jobs", content=b'{"Job": ')
    assert (ok.status_code, ok.json()) == (200, job)
    body, decoded = seen[0]
    assert decoded is not None and decoded[1] is body  # the middleware's decode
    assert bad.status_code == 400
    assert bad.text == ("Failed to decode request body: Expecting value: line 1 column 9 (char 8)")
