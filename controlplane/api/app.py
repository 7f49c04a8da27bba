"""The Starlette application: route table and the one place errors become statuses.

Errors are plain-text bodies (API.md §0.1): NomadError subclasses carry their
status; anything unexpected is a 500 with its message, logged with a trace.

Routing is Starlette's (first route in table order wins, 405 for a path
matched with another method, slash redirects, 404), but `IndexedRouter`
only tries the routes that can match a path's first two segments instead
of all ~80 regexes in turn (the internal client routes sit at the end of
the table and are the most often called).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import PARAM_REGEX, BaseRoute, Match, Route, Router, get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

from controlplane.errors import NomadError

from . import (
    acl,
    auth,
    client_actions,
    client_fs,
    client_stats,
    deployments,
    events,
    internal,
    job_dispatch,
    jobs,
    keyring,
    namespaces,
    node_actions,
    openapi,
    operator,
    quotas,
    resources,
    services,
    status,
    variables,
)
from .limits import DEFAULT_MAX_BODY_BYTES, SNAPSHOT_MAX_BODY_BYTES, SNAPSHOT_PATH, BodyLimit
from .region_forward import RegionForward

if TYPE_CHECKING:
    from controlplane.agent.agent import Agent

log = logging.getLogger(__name__)

READ = ["GET"]
WRITE = ["PUT", "POST"]

Endpoint = Callable[[Request], Awaitable[Response]]


class ApiRoute(Route):
    """Starlette's Route without its own exception wrapper around the
    endpoint: an error raised there goes to ExceptionMiddleware's, which
    holds the same handlers and renders it the same way."""

    def __init__(self, path: str, endpoint: Endpoint, *, methods: list[str]) -> None:
        super().__init__(path, endpoint, methods=methods)
        assert inspect.iscoroutinefunction(endpoint), path
        self.app = _endpoint_app(endpoint)


def _endpoint_app(endpoint: Endpoint) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


SERVER_ROUTES = [
    ApiRoute("/v1/namespaces", namespaces.namespaces_list, methods=READ),
    ApiRoute("/v1/namespace", namespaces.namespace_item, methods=WRITE),
    ApiRoute("/v1/namespace/{name}", namespaces.namespace_item, methods=READ + WRITE + ["DELETE"]),
    ApiRoute("/v1/jobs", jobs.jobs_list, methods=READ + WRITE),
    ApiRoute("/v1/jobs/parse", jobs.jobs_parse, methods=WRITE),
    # before the catch-all job route: job IDs may contain `/`
    ApiRoute("/v1/job/{job_id:path}/services", services.job_services, methods=READ),
    ApiRoute("/v1/job/{job_id:path}/dispatch", job_dispatch.dispatch, methods=WRITE),
    ApiRoute("/v1/job/{job_id:path}/periodic/force", job_dispatch.periodic_force, methods=WRITE),
    ApiRoute("/v1/job/{rest:path}", jobs.job_item, methods=READ + WRITE + ["DELETE"]),
    ApiRoute("/v1/nodes", auth.guard(resources.nodes_list, auth.node_read), methods=READ),
    ApiRoute(
        "/v1/node/{node_id}", auth.guard(resources.node_item, auth.node_read_or_self), methods=READ
    ),
    ApiRoute(
        "/v1/node/{node_id}/allocations",
        auth.guard(resources.node_allocations, auth.node_read_or_self),
        methods=READ,
    ),
    ApiRoute(
        "/v1/node/{node_id}/eligibility",
        auth.guard(node_actions.eligibility, auth.node_write),
        methods=WRITE,
    ),
    ApiRoute(
        "/v1/node/{node_id}/drain", auth.guard(node_actions.drain, auth.node_write), methods=WRITE
    ),
    ApiRoute("/v1/allocations", resources.allocs_list, methods=READ),
    ApiRoute("/v1/allocation/{alloc_id}", resources.alloc_item, methods=READ),
    ApiRoute("/v1/allocation/{alloc_id}/stop", node_actions.alloc_stop, methods=WRITE),
    ApiRoute("/v1/allocation/{alloc_id}/services", services.alloc_services, methods=READ),
    ApiRoute("/v1/services", services.services_list, methods=READ),
    ApiRoute("/v1/service/{name}", services.service_read, methods=READ),
    ApiRoute("/v1/service/{name}/{reg_id}", services.service_delete, methods=["DELETE"]),
    ApiRoute("/v1/event/stream", events.stream, methods=READ),
    ApiRoute("/v1/evaluations", resources.evals_list, methods=READ),
    ApiRoute("/v1/evaluation/{eval_id}", resources.eval_item, methods=READ),
    ApiRoute("/v1/evaluation/{eval_id}/allocations", resources.eval_allocations, methods=READ),
    ApiRoute("/v1/deployments", resources.deployments_list, methods=READ),
    ApiRoute("/v1/deployment/allocations/{dep_id}", deployments.allocations, methods=READ),
    ApiRoute("/v1/deployment/promote/{dep_id}", deployments.promote, methods=WRITE),
    ApiRoute("/v1/deployment/fail/{dep_id}", deployments.fail, methods=WRITE),
    ApiRoute("/v1/deployment/pause/{dep_id}", deployments.pause, methods=WRITE),
    ApiRoute(
        "/v1/deployment/allocation-health/{dep_id}", deployments.allocation_health, methods=WRITE
    ),
    ApiRoute("/v1/deployment/{dep_id}", resources.deployment_item, methods=READ),
    ApiRoute("/v1/status/leader", status.status_leader, methods=READ),
    ApiRoute("/v1/status/peers", status.status_peers, methods=READ),
    ApiRoute("/v1/agent/members", auth.guard(status.agent_members, auth.node_read), methods=READ),
    ApiRoute("/v1/regions", status.regions, methods=READ),
    ApiRoute("/v1/quotas", quotas.quotas_list, methods=READ),
    ApiRoute("/v1/quota-usages", quotas.quota_usages, methods=READ),
    ApiRoute("/v1/quota/usage/{name}", quotas.quota_usage, methods=READ),
    ApiRoute("/v1/quota", quotas.quota_upsert, methods=WRITE),
    ApiRoute("/v1/quota/{name}", quotas.quota_item, methods=READ + WRITE + ["DELETE"]),
    ApiRoute(
        "/v1/system/gc",
        auth.guard(operator.system_gc, auth.management),
        methods=WRITE,
    ),
    ApiRoute("/v1/agent/join", auth.guard(operator.agent_join, auth.agent_write), methods=WRITE),
    ApiRoute(
        "/v1/agent/force-leave", auth.guard(operator.force_leave, auth.agent_write), methods=WRITE
    ),
    ApiRoute(
        "/v1/operator/raft/configuration",
        auth.guard(operator.raft_configuration, auth.operator_read),
        methods=READ,
    ),
    ApiRoute(
        "/v1/operator/raft/peer",
        auth.guard(operator.raft_remove_peer, auth.operator_write),
        methods=["DELETE"],
    ),
    ApiRoute(
        "/v1/operator/snapshot",
        auth.guard(operator.snapshot, auth.management),
        methods=READ + WRITE,
    ),
    ApiRoute("/v1/vars", variables.vars_list, methods=READ),
    ApiRoute("/v1/var/{path:path}", variables.var_item, methods=READ + WRITE + ["DELETE"]),
    ApiRoute(
        "/v1/operator/keyring/keys",
        auth.guard(keyring.keys_list, auth.management),
        methods=READ,
    ),
    ApiRoute(
        "/v1/operator/keyring/rotate",
        auth.guard(keyring.rotate, auth.management),
        methods=WRITE,
    ),
    ApiRoute(
        "/v1/operator/keyring/key/{key_id}",
        auth.guard(keyring.key_delete, auth.management),
        methods=["DELETE"],
    ),
    ApiRoute("/v1/internal/keyring/{key_id}", keyring.internal_key, methods=READ),
    ApiRoute("/v1/acl/bootstrap", acl.bootstrap, methods=WRITE),
    ApiRoute("/v1/acl/policies", acl.policies_list, methods=READ),
    ApiRoute("/v1/acl/policy/{name}", acl.policy_item, methods=READ + WRITE + ["DELETE"]),
    ApiRoute("/v1/acl/tokens", acl.tokens_list, methods=READ),
    ApiRoute("/v1/acl/token", acl.token_create, methods=WRITE),
    ApiRoute("/v1/acl/token/self", acl.token_self, methods=READ),
    ApiRoute("/v1/acl/token/{accessor_id}", acl.token_item, methods=READ + WRITE + ["DELETE"]),
    ApiRoute("/v1/internal/node/register", internal.node_register, methods=WRITE),
    ApiRoute("/v1/internal/node/{node_id}/heartbeat", internal.node_heartbeat, methods=WRITE),
    ApiRoute("/v1/internal/allocs/update", internal.allocs_update, methods=WRITE),
    ApiRoute("/v1/internal/services", internal.services_update, methods=WRITE),
    ApiRoute("/v1/internal/federation", status.federation, methods=READ + WRITE),
]

AGENT_ROUTES = [
    ApiRoute("/v1/agent/self", auth.guard(status.agent_self, auth.agent_read), methods=READ),
    ApiRoute("/v1/agent/health", status.agent_health, methods=READ),
    ApiRoute("/v1/openapi.json", openapi.openapi_json, methods=READ),
    ApiRoute("/v1/client/fs/logs/{alloc_id}", client_fs.logs, methods=READ),
    ApiRoute("/v1/client/stats", auth.guard(client_stats.host_stats, auth.node_read), methods=READ),
    ApiRoute("/v1/client/allocation/{alloc_id}/stats", client_stats.alloc_stats, methods=READ),
    ApiRoute("/v1/client/allocation/{alloc_id}/restart", client_actions.restart, methods=WRITE),
    ApiRoute("/v1/client/allocation/{alloc_id}/signal", client_actions.signal, methods=WRITE),
]


def _path_key(path: str) -> tuple[str, ...]:
    """The routing bucket of a path: its first two segments (`/v1/jobs` ->
    ("", "v1", "jobs"))."""
    return tuple(path.split("/", 3)[:3])


def _route_key(route: BaseRoute) -> tuple[str, ...] | None:
    """The only bucket whose paths `route` can match, None if several can.

    A route's regex is its literal text up to the first parameter, then the
    parameter's pattern: a path it matches starts with that text, so when
    the text holds the first two segments whole, the path's bucket is the
    text's (a route without parameters matches only its own path)."""
    if not isinstance(route, Route):
        return None
    param = PARAM_REGEX.search(route.path)
    if param is None:
        return _path_key(route.path)
    literal = route.path[: param.start()]
    parts = literal.split("/", 3)
    return tuple(parts[:3]) if len(parts) == 4 else None


class IndexedRouter(Router):
    """Starlette's Router, trying per path only the routes of its bucket
    (plus those that could match any bucket), in table order: every other
    route would have answered Match.NONE, so the outcome is the same."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        super().__init__(routes)
        keys = [_route_key(r) for r in self.routes]
        self._anywhere = [r for r, k in zip(self.routes, keys, strict=True) if k is None]
        self._buckets: dict[tuple[str, ...], list[BaseRoute]] = {}
        for key in {k for k in keys if k is not None}:
            self._buckets[key] = [
                r for r, k in zip(self.routes, keys, strict=True) if k is None or k == key
            ]

    def candidates(self, path: str) -> list[BaseRoute]:
        return self._buckets.get(_path_key(path), self._anywhere)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Router.app with `self.routes` narrowed to `candidates` (Starlette 1.x)
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self
        route_path = get_route_path(scope)
        partial = None
        partial_scope: Scope = {}
        for route in self.candidates(route_path):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial = route
                partial_scope = child_scope
        if partial is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        if self.redirect_slashes and route_path != "/":
            redirect_scope = dict(scope)
            if route_path.endswith("/"):
                redirect_scope["path"] = redirect_scope["path"].rstrip("/")
            else:
                redirect_scope["path"] = redirect_scope["path"] + "/"
            for route in self.candidates(get_route_path(redirect_scope)):
                match, _ = route.matches(redirect_scope)
                if match is not Match.NONE:
                    response = RedirectResponse(url=str(URL(scope=redirect_scope)))
                    await response(scope, receive, send)
                    return
        await self.default(scope, receive, send)


async def _nomad_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NomadError)
    return PlainTextResponse(exc.message, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return PlainTextResponse("Invalid method", status_code=405)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("http: %s %s failed", request.method, request.url.path)
    return PlainTextResponse(f"internal error: {exc}", status_code=500)


def build_app(
    agent: Agent,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_snapshot_bytes: int = SNAPSHOT_MAX_BODY_BYTES,
) -> Starlette:
    routes = list(AGENT_ROUTES)
    if agent.server is not None:
        routes = SERVER_ROUTES + routes
    body_limit = Middleware(
        BodyLimit, max_bytes=max_body_bytes, limits={SNAPSHOT_PATH: max_snapshot_bytes}
    )
    # before ACLs: the region that answers a request checks its token
    regions = Middleware(RegionForward, agent=agent)
    app = Starlette(
        routes=routes,
        middleware=[body_limit, regions, *auth.acl_middleware(agent)],
        exception_handlers={
            NomadError: _nomad_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.router = IndexedRouter(routes)
    app.state.agent = agent
    return app
