"""A canned Nomad HTTP API behind httpx.MockTransport, and a CLI runner.

Routes map (method, path) to a JSON body, a `Reply`, a `Seq` of replies served
in turn (the last one repeats), or a callable taking the request. Every request is logged.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main

NOW = datetime(2020, 6, 21, 18, 40, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp() * 1e9)
SEC = 1_000_000_000


def ago_ns(seconds: float) -> int:
    return NOW_NS - int(seconds * SEC)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    index: int | None = None


class Seq:
    """Replies served in turn; the last one repeats."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)

    def next(self) -> Any:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


Route = Any


class FakeNomad:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.calls: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def route(self, method: str, path: str, reply: Route) -> None:
        self.routes[(method, path)] = reply

    def requests_to(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.calls if r.method == method and r.url.path == path]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        key = (request.method, request.url.path)
        if key not in self.routes:
            return httpx.Response(404, text="resource not found")
        reply = self.routes[key]
        if isinstance(reply, Seq):
            reply = reply.next()
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, httpx.Response):
            return reply
        if not isinstance(reply, Reply):
            reply = Reply(body=reply)
        headers = dict(reply.headers)
        if reply.index is not None:
            headers["X-Nomad-Index"] = str(reply.index)
        if reply.text is not None:
            return httpx.Response(reply.status, text=reply.text, headers=headers)
        return httpx.Response(
            reply.status,
            content=json.dumps(reply.body).encode(),
            headers={"Content-Type": "application/json", **headers},
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    argv: list[str],
    fake: FakeNomad | None = None,
    stdin: str = "",
    env: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] = lambda: NOW,
) -> Result:
    out, err = io.StringIO(), io.StringIO()
    runtime = Runtime(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(stdin),
        env=env or {},
        transport=transport or (fake.transport if fake else None),
        now=now,
        sleep=fake.sleep if fake else (lambda _s: None),
    )
    code = main(argv, runtime)
    return Result(code, out.getvalue(), err.getvalue())
