"""ACL enforcement at the HTTP edge: the token middleware and route guards.

`ACLMiddleware` (pure ASGI) reads `X-Nomad-Token` or `Authorization: Bearer
<secret>`, resolves it and puts the result in `scope["state"]`:
`acl` (what handlers ask, common.acl_of), `acl_token` (the ACLToken, None
for anonymous) and `acl_secret` (for /v1/acl/token/self and node-secret
checks). A server resolves against its own store (followers too: the ACL
tables are replicated); a client-only agent asks its servers
(`RemoteResolver`: /v1/acl/token/self, then the token's policies; cached
briefly). Unknown or expired tokens are a plain-text 403 before any handler
runs, except where a client node may authenticate with its node SecretID
(/v1/internal/*, /v1/node/:id...): there the route guard decides.

`guard(endpoint, check)` wraps a handler with a coarse check (node, agent,
operator, management) so handlers stay unaware of ACLs. Namespace checks
live in the handlers (common.require_namespace). The secret is never logged.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from controlplane.acl import ACL, EMPTY, MANAGEMENT
from controlplane.acl.resolve import TOKEN_NOT_FOUND, ACLCache, ACLResolver
from controlplane.errors import NoLeader, NomadError, PermissionDenied, error_for_status
from controlplane.server.acl_endpoints import parse_rfc3339
from controlplane.structs import ACLPolicy, ACLToken, from_builtins

from .common import acl_of

if TYPE_CHECKING:
    from controlplane.agent.agent import Agent
    from controlplane.agent.tls import TLSConfig

# answered whatever the token (Nomad's status endpoints do not resolve one)
EXEMPT_PATHS = frozenset(
    {
        "/v1/acl/bootstrap",
        "/v1/agent/health",
        "/v1/regions",
        "/v1/status/leader",
        "/v1/status/peers",
        "/v1/openapi.json",
    }
)
# a client node may present its node SecretID here instead of an ACL token
# (and read the variables of its allocations' jobs: api/variables.py)
NODE_SECRET_PREFIXES = ("/v1/internal/", "/v1/node/", "/v1/var/", "/v1/vars")
REMOTE_TTL_S = 30.0


class Resolver(Protocol):
    async def resolve_token(self, secret: str) -> tuple[ACL, ACLToken | None]: ...


class LocalResolver:
    """A server's resolver: its own replicated store, no I/O."""

    def __init__(self, resolver: ACLResolver) -> None:
        self.resolver = resolver

    async def resolve_token(self, secret: str) -> tuple[ACL, ACLToken | None]:
        return self.resolver.resolve_token(secret)


class RemoteResolver:
    """A client-only agent's resolver: asks the servers, caches for REMOTE_TTL_S.

    Only successful resolutions are cached (never beyond the token's expiry),
    so a token created a moment ago works at once.
    """

    def __init__(
        self,
        servers: list[str],
        tls: TLSConfig,
        ttl_s: float = REMOTE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._servers = [tls.url(s) if "://" not in s else s for s in servers]
        self._verify = tls.client_verify()
        self._ttl_s = ttl_s
        self._clock = clock
        self._compiled = ACLCache()
        self._cache: dict[str, tuple[float, ACL, ACLToken | None]] = {}

    async def resolve_token(self, secret: str) -> tuple[ACL, ACLToken | None]:
        hit = self._cache.get(secret)
        if hit is not None and hit[0] > self._clock():
            return hit[1], hit[2]
        acl, token = await self._fetch(secret)
        until = self._clock() + self._ttl_s
        if token is not None and token.expires_at:
            until = min(until, self._clock() + (token.expires_at - time.time_ns()) / 1e9)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[secret] = (until, acl, token)
        return acl, token

    async def _fetch(self, secret: str) -> tuple[ACL, ACLToken | None]:
        headers = {"X-Nomad-Token": secret} if secret else {}
        async with httpx.AsyncClient(timeout=10.0, verify=self._verify, headers=headers) as http:
            token: ACLToken | None = None
            names = ["anonymous"]
            if secret:
                data = await self._get(http, "/v1/acl/token/self")
                expiry = data.get("ExpirationTime") or ""
                token = ACLToken(
                    accessor_id=str(data.get("AccessorID") or ""),
                    name=str(data.get("Name") or ""),
                    type=str(data.get("Type") or ""),
                    policies=list(data.get("Policies") or []),
                    expiration_time=expiry,
                    expires_at=parse_rfc3339(expiry) if expiry else 0,
                )
                if token.management():
                    return MANAGEMENT, token
                names = token.policies or []
            policies = []
            for name in names:
                try:
                    data = await self._get(http, f"/v1/acl/policy/{name}")
                except NomadError as exc:
                    if exc.status == 404:
                        continue  # a missing policy grants nothing, as on the servers
                    raise
                policies.append(from_builtins(data, ACLPolicy))
        if not policies:
            return EMPTY, token
        return self._compiled.get_or_compile(policies), token

    async def _get(self, http: httpx.AsyncClient, path: str) -> Any:
        last: Exception | None = None
        for base in self._servers:
            try:
                resp = await http.get(base + path)
            except httpx.TransportError as exc:
                last = exc
                continue
            if resp.status_code >= 400:
                raise error_for_status(resp.status_code, resp.text.strip())
            return resp.json()
        raise NoLeader(f"no server reachable to resolve the ACL token ({last})")


def secret_of(scope: Scope) -> str:
    """The request's secret: X-Nomad-Token, else Authorization: Bearer."""
    bearer = ""
    for name, value in scope.get("headers", ()):
        if name == b"x-nomad-token":
            return value.decode("latin-1").strip()
        if name == b"authorization":
            text = value.decode("latin-1").strip()
            if text[:7].lower() == "bearer ":
                bearer = text[7:].strip()
    return bearer


class ACLMiddleware:
    def __init__(self, app: ASGIApp, resolver: Resolver) -> None:
        self.app = app
        self.resolver = resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        secret = secret_of(scope)
        path: str = scope.get("path", "")
        state = scope.setdefault("state", {})
        try:
            acl, token = await self.resolver.resolve_token(secret)
        except NomadError as exc:
            if path in EXEMPT_PATHS:
                acl, token = EMPTY, None
            elif (
                isinstance(exc, PermissionDenied)
                and exc.message == TOKEN_NOT_FOUND
                and path.startswith(NODE_SECRET_PREFIXES)
            ):
                # maybe a node's SecretID: the route guard checks it
                acl, token = EMPTY, None
                state["node_secret"] = secret
            else:
                await _plain(exc.status, exc.message)(scope, receive, send)
                return
        state["acl"] = acl
        state["acl_token"] = token
        state["acl_secret"] = secret
        await self.app(scope, receive, send)


def _plain(status: int, message: str) -> Response:
    return Response(message, status_code=status, media_type="text/plain; charset=utf-8")


# -- route guards ---------------------------------------------------------------

Endpoint = Callable[[Request], Awaitable[Response]]
Check = Callable[[Request], bool]


def deny(request: Request) -> PermissionDenied:
    """The 403 for a failed check: an unknown token that was let through for
    a node-secret check is still "ACL token not found"."""
    if request.scope.get("state", {}).get("node_secret"):
        return PermissionDenied(TOKEN_NOT_FOUND)
    return PermissionDenied()


def guard(endpoint: Endpoint, check: Check) -> Endpoint:
    """`endpoint` behind `check` (403 when it fails)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if not check(request):
            raise deny(request)
        return await endpoint(request)

    return guarded


def node_read(request: Request) -> bool:
    return acl_of(request).allow_node_read()


def node_write(request: Request) -> bool:
    return acl_of(request).allow_node_write()


def agent_read(request: Request) -> bool:
    return acl_of(request).allow_agent_read()


def agent_write(request: Request) -> bool:
    return acl_of(request).allow_agent_write()


def operator_read(request: Request) -> bool:
    return acl_of(request).allow_operator_read()


def operator_write(request: Request) -> bool:
    return acl_of(request).allow_operator_write()


def management(request: Request) -> bool:
    return acl_of(request).is_management()


def own_node_secret(request: Request, node_id: str) -> bool:
    """Whether the request carries the SecretID of node `node_id`."""
    secret = request.scope.get("state", {}).get("acl_secret", "")
    server = request.app.state.agent.server
    if not secret or server is None:
        return False
    node = server.store.node_by_id(node_id)
    return node is not None and bool(node.secret_id) and node.secret_id == secret


def node_read_or_self(request: Request) -> bool:
    """node:read, or the node's own SecretID: the client agent reading its
    allocations. Its own node's requests then see every allocation of that
    node, whatever the namespace (Nomad's Node.GetClientAllocs)."""
    if acl_of(request).allow_node_read():
        return True
    if own_node_secret(request, request.path_params.get("node_id", "")):
        request.scope["state"]["acl"] = MANAGEMENT
        return True
    return False


def acl_middleware(agent: Agent) -> list[Middleware]:
    """The ACL middleware this agent needs: none with ACLs disabled; a
    server resolves locally, a client-only agent through its servers."""
    server = agent.server
    if server is not None:
        if not server.cfg.acl_enabled:
            return []
        resolver: Resolver = LocalResolver(ACLResolver(server.store, enabled=True))
    elif agent.config.acl_enabled:
        servers = agent.config.servers
        resolver = RemoteResolver(servers, agent.config.tls)
    else:
        return []
    return [Middleware(ACLMiddleware, resolver=resolver)]
