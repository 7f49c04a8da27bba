"""The Starlette application: route table and the one place errors become statuses.

Errors are plain-text bodies (API.md §0.1): NomadError subclasses carry their
status; anything unexpected is a 500 with its message, logged with a trace.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

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

SERVER_ROUTES = [
    Route("/v1/namespaces", namespaces.namespaces_list, methods=READ),
    Route("/v1/namespace", namespaces.namespace_item, methods=WRITE),
    Route("/v1/namespace/{name}", namespaces.namespace_item, methods=READ + WRITE + ["DELETE"]),
    Route("/v1/jobs", jobs.jobs_list, methods=READ + WRITE),
    Route("/v1/jobs/parse", jobs.jobs_parse, methods=WRITE),
    # before the catch-all job route: job IDs may contain `/`
    Route("/v1/job/{job_id:path}/services", services.job_services, methods=READ),
    Route("/v1/job/{job_id:path}/dispatch", job_dispatch.dispatch, methods=WRITE),
    Route("/v1/job/{job_id:path}/periodic/force", job_dispatch.periodic_force, methods=WRITE),
    Route("/v1/job/{rest:path}", jobs.job_item, methods=READ + WRITE + ["DELETE"]),
    Route("/v1/nodes", auth.guard(resources.nodes_list, auth.node_read), methods=READ),
    Route(
        "/v1/node/{node_id}", auth.guard(resources.node_item, auth.node_read_or_self), methods=READ
    ),
    Route(
        "/v1/node/{node_id}/allocations",
        auth.guard(resources.node_allocations, auth.node_read_or_self),
        methods=READ,
    ),
    Route(
        "/v1/node/{node_id}/eligibility",
        auth.guard(node_actions.eligibility, auth.node_write),
        methods=WRITE,
    ),
    Route(
        "/v1/node/{node_id}/drain", auth.guard(node_actions.drain, auth.node_write), methods=WRITE
    ),
    Route("/v1/allocations", resources.allocs_list, methods=READ),
    Route("/v1/allocation/{alloc_id}", resources.alloc_item, methods=READ),
    Route("/v1/allocation/{alloc_id}/stop", node_actions.alloc_stop, methods=WRITE),
    Route("/v1/allocation/{alloc_id}/services", services.alloc_services, methods=READ),
    Route("/v1/services", services.services_list, methods=READ),
    Route("/v1/service/{name}", services.service_read, methods=READ),
    Route("/v1/service/{name}/{reg_id}", services.service_delete, methods=["DELETE"]),
    Route("/v1/event/stream", events.stream, methods=READ),
    Route("/v1/evaluations", resources.evals_list, methods=READ),
    Route("/v1/evaluation/{eval_id}", resources.eval_item, methods=READ),
    Route("/v1/evaluation/{eval_id}/allocations", resources.eval_allocations, methods=READ),
    Route("/v1/deployments", resources.deployments_list, methods=READ),
    Route("/v1/deployment/allocations/{dep_id}", deployments.allocations, methods=READ),
    Route("/v1/deployment/promote/{dep_id}", deployments.promote, methods=WRITE),
    Route("/v1/deployment/fail/{dep_id}", deployments.fail, methods=WRITE),
    Route("/v1/deployment/pause/{dep_id}", deployments.pause, methods=WRITE),
    Route(
        "/v1/deployment/allocation-health/{dep_id}", deployments.allocation_health, methods=WRITE
    ),
    Route("/v1/deployment/{dep_id}", resources.deployment_item, methods=READ),
    Route("/v1/status/leader", status.status_leader, methods=READ),
    Route("/v1/status/peers", status.status_peers, methods=READ),
    Route("/v1/agent/members", auth.guard(status.agent_members, auth.node_read), methods=READ),
    Route("/v1/regions", status.regions, methods=READ),
    Route("/v1/quotas", quotas.quotas_list, methods=READ),
    Route("/v1/quota-usages", quotas.quota_usages, methods=READ),
    Route("/v1/quota/usage/{name}", quotas.quota_usage, methods=READ),
    Route("/v1/quota", quotas.quota_upsert, methods=WRITE),
    Route("/v1/quota/{name}", quotas.quota_item, methods=READ + WRITE + ["DELETE"]),
    Route(
        "/v1/system/gc",
        auth.guard(operator.system_gc, auth.management),
        methods=WRITE,
    ),
    Route("/v1/agent/join", auth.guard(operator.agent_join, auth.agent_write), methods=WRITE),
    Route(
        "/v1/agent/force-leave", auth.guard(operator.force_leave, auth.agent_write), methods=WRITE
    ),
    Route(
        "/v1/operator/raft/configuration",
        auth.guard(operator.raft_configuration, auth.operator_read),
        methods=READ,
    ),
    Route(
        "/v1/operator/raft/peer",
        auth.guard(operator.raft_remove_peer, auth.operator_write),
        methods=["DELETE"],
    ),
    Route(
        "/v1/operator/snapshot",
        auth.guard(operator.snapshot, auth.management),
        methods=READ + WRITE,
    ),
    Route("/v1/vars", variables.vars_list, methods=READ),
    Route("/v1/var/{path:path}", variables.var_item, methods=READ + WRITE + ["DELETE"]),
    Route(
        "/v1/operator/keyring/keys",
        auth.guard(keyring.keys_list, auth.management),
        methods=READ,
    ),
    Route(
        "/v1/operator/keyring/rotate",
        auth.guard(keyring.rotate, auth.management),
        methods=WRITE,
    ),
    Route(
        "/v1/operator/keyring/key/{key_id}",
        auth.guard(keyring.key_delete, auth.management),
        methods=["DELETE"],
    ),
    Route("/v1/internal/keyring/{key_id}", keyring.internal_key, methods=READ),
    Route("/v1/acl/bootstrap", acl.bootstrap, methods=WRITE),
    Route("/v1/acl/policies", acl.policies_list, methods=READ),
    Route("/v1/acl/policy/{name}", acl.policy_item, methods=READ + WRITE + ["DELETE"]),
    Route("/v1/acl/tokens", acl.tokens_list, methods=READ),
    Route("/v1/acl/token", acl.token_create, methods=WRITE),
    Route("/v1/acl/token/self", acl.token_self, methods=READ),
    Route("/v1/acl/token/{accessor_id}", acl.token_item, methods=READ + WRITE + ["DELETE"]),
    Route("/v1/internal/node/register", internal.node_register, methods=WRITE),
    Route("/v1/internal/node/{node_id}/heartbeat", internal.node_heartbeat, methods=WRITE),
    Route("/v1/internal/allocs/update", internal.allocs_update, methods=WRITE),
    Route("/v1/internal/services", internal.services_update, methods=WRITE),
    Route("/v1/internal/federation", status.federation, methods=READ + WRITE),
]

AGENT_ROUTES = [
    Route("/v1/agent/self", auth.guard(status.agent_self, auth.agent_read), methods=READ),
    Route("/v1/agent/health", status.agent_health, methods=READ),
    Route("/v1/openapi.json", openapi.openapi_json, methods=READ),
    Route("/v1/client/fs/logs/{alloc_id}", client_fs.logs, methods=READ),
    Route("/v1/client/stats", auth.guard(client_stats.host_stats, auth.node_read), methods=READ),
    Route("/v1/client/allocation/{alloc_id}/stats", client_stats.alloc_stats, methods=READ),
    Route("/v1/client/allocation/{alloc_id}/restart", client_actions.restart, methods=WRITE),
    Route("/v1/client/allocation/{alloc_id}/signal", client_actions.signal, methods=WRITE),
]


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
    app.state.agent = agent
    return app
