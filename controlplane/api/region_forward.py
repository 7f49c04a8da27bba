"""Region forwarding: a request for another region is answered by that region.

A pure ASGI middleware placed before the ACL middleware (the target region
checks the token: ACL tokens live in one region's state here). The target
region is `?region=`; without it, a job write (`PUT/POST /v1/jobs`,
`/v1/job/:id`, plan, validate) names it in its body (`Region`, else
`Job.Region`; `global` or empty means this agent's region, as Nomad's
regionForJob). A request for this agent's region goes on to the app.

A server forwards to a live server of the target region (the federation
table), trying the next one only when a connection could not be made (the
request never left), and relays the answer as it arrives (status, headers,
body: blocking queries and streams are not buffered). A client-only agent
hands the request to its servers, which forward it. A forwarded request
carries FORWARDED_HEADER; one that arrives in the wrong region anyway is
refused, never forwarded twice, so no loop can form. An unknown or
unreachable region gets Nomad's 500 `No path to region` (with why).
Never answers for a region itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.jobspec import parse_duration

from .common import DECODED_BODY
from .forward import open_upstream, relay

if TYPE_CHECKING:
    from controlplane.agent.agent import Agent

log = logging.getLogger(__name__)

NO_PATH = "No path to region"
# set on a request forwarded to another region: its value is the origin region
FORWARDED_HEADER = "x-nomad-forwarded-region"
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 120.0
MAX_TRIES = 3
# paths whose body may name the job's region
JOB_WRITE_PREFIXES = ("/v1/jobs", "/v1/job/", "/v1/validate/job")
# streams: no read timeout (the event stream and followed logs may idle long)
STREAM_PREFIXES = ("/v1/event/stream", "/v1/client/fs/", "/v1/agent/monitor")


class RegionForward:
    def __init__(self, app: ASGIApp, agent: Agent) -> None:
        self.app = app
        self.agent = agent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        qs: bytes = scope.get("query_string", b"")
        region = _query_region(qs)
        body: bytes | None = None
        if (
            not region
            and scope["method"] in ("PUT", "POST")
            and path.startswith(JOB_WRITE_PREFIXES)
        ):
            body = await _read_body(receive)
            data = _decode(body)
            region = _region_of(data)
            if data is not None:
                # the handler's read_body takes it rather than decoding again
                scope[DECODED_BODY] = (body, data)
            receive = _replay(body, receive)
        local = self.agent.config.region
        if not region or region == local:
            await self.app(scope, receive, send)
            return
        hop = _header(scope, FORWARDED_HEADER)
        if hop:
            # forwarded once already: another hop could only go round in circles
            message = (
                f'{NO_PATH}: request for region "{region}" forwarded from region '
                f'"{hop}" reached region "{local}"; it is not forwarded twice'
            )
            await _plain(500, message)(scope, receive, send)
            return
        if body is None:
            body = await _read_body(receive)
        await self._forward(scope, receive, send, region, body, _query(qs))

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        region: str,
        body: bytes,
        query: dict[str, list[str]],
    ) -> None:
        agent = self.agent
        server = agent.server
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ())]
        if server is not None:
            federation = server.federation
            if not federation.known(region):
                known = ", ".join(federation.regions())
                message = f'{NO_PATH}: region "{region}" is not known (known regions: {known})'
                await _plain(500, message)(scope, receive, send)
                return
            targets = federation.targets(region)[:MAX_TRIES]
            headers.append((FORWARDED_HEADER, agent.config.region))
            if not targets:
                ago = federation.last_heard(region)
                message = (
                    f'{NO_PATH}: no live server in region "{region}" '
                    f"(last heard from {ago:.0f}s ago)"
                )
                await _plain(500, message)(scope, receive, send)
                return
        else:
            # a client agent: its servers know the other regions
            targets = list(agent.config.servers)[:MAX_TRIES]
        tls = agent.config.tls
        raw_path = scope.get("raw_path") or scope["path"].encode()
        qs = scope.get("query_string", b"")
        target_path = raw_path.decode("latin-1") + (f"?{qs.decode('latin-1')}" if qs else "")
        timeout = _timeout(scope.get("path", ""), query)
        problems: list[str] = []
        for addr in targets:
            try:
                client, upstream = await open_upstream(
                    scope["method"],
                    tls.url(addr) + target_path,
                    body,
                    headers,
                    tls.client_verify(),
                    timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                problems.append(f"{addr}: {exc or type(exc).__name__}")
                continue
            except httpx.HTTPError as exc:
                # it may have been received: sending it again could apply it twice
                problems.append(f"{addr}: {exc or type(exc).__name__}")
                break
            try:
                await relay(client, upstream)(scope, receive, send)
            finally:
                await upstream.aclose()
                await client.aclose()
            return
        log.warning("region forward: no server of region=%s answered: %s", region, problems)
        message = f'{NO_PATH}: cannot reach a server of region "{region}" ({"; ".join(problems)})'
        await _plain(500, message)(scope, receive, send)


def _query(qs: bytes) -> dict[str, list[str]]:
    return parse_qs(qs.decode("latin-1"))


def _query_region(qs: bytes) -> str:
    """`?region=` ("" for none). Most requests carry no query, or one that
    cannot name a region: a key decodes to `region` only from those letters
    or from %-escapes."""
    if not qs or (b"region" not in qs and b"%" not in qs):
        return ""
    return (_query(qs).get("region") or [""])[0]


def body_region(body: bytes) -> str:
    """The region a job write's body names ("" for none, `global`, or no JSON).

    Go decodes bodies case-insensitively: `region` is `Region`."""
    return _region_of(_decode(body))


def _decode(body: bytes) -> Any:
    """The body's JSON, as read_body decodes it; None for none or not JSON."""
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        # not a job this layer can read: the handler refuses it properly
        # (a body nested past the decoder's stack is a 400 there, not a 500)
        return None


def _region_of(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    region = _get_ci(data, "Region")
    job = _get_ci(data, "Job")
    if not (isinstance(region, str) and region) and isinstance(job, dict):
        region = _get_ci(job, "Region")
    if not isinstance(region, str) or region in ("", "global"):
        return ""
    return region


def _get_ci(data: dict[str, Any], key: str) -> Any:
    if key in data:
        return data[key]
    lower = key.lower()
    return next((v for k, v in data.items() if isinstance(k, str) and k.lower() == lower), None)


def _timeout(path: str, query: dict[str, list[str]]) -> httpx.Timeout:
    read: float | None = READ_TIMEOUT_S
    if path.startswith(STREAM_PREFIXES):
        read = None
    elif query.get("index"):
        # a blocking query answers after at most its wait (5 min by default)
        try:
            wait = parse_duration((query.get("wait") or ["5m"])[0]) / 1e9
        except ValueError:
            wait = 300.0
        read = min(wait, 600.0) + READ_TIMEOUT_S
    return httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S, read=read)


def _header(scope: Scope, name: str) -> str:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return ""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A receive that hands the app the body already read, then the real one
    (which tells of a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _plain(status: int, message: str) -> Response:
    return Response(message, status_code=status, media_type="text/plain; charset=utf-8")
