"""Read routes for nodes, allocations, evaluations and deployments (API.md §2.2-2.5).

Allocations, evaluations and deployments are namespaced: lists show only
the namespaces `?namespace=` selects and the token may read-job in (so a
`?prefix=` never matches another namespace's objects); one object is loaded
first and then needs read-job in its own namespace (403, as Nomad).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import READ_JOB
from controlplane.errors import NotFound
from controlplane.state import StateStore
from controlplane.structs import Allocation, AllocListStub, Evaluation

from .common import (
    acl_of,
    blocking_query,
    namespace_filter,
    namespace_of,
    query_bool,
    require_namespace,
    server_of,
)
from .stubs import alloc_stub_cache, node_stub


def _prefix(request: Request) -> str:
    return request.query_params.get("prefix", "")


def _list_ns(request: Request) -> str | None:
    ns = namespace_of(request)
    return None if ns == "*" else ns


def _found(value: Any, message: str) -> Any:
    if value is None:
        raise NotFound(message)
    return value


def _readable(request: Request, value: Any, message: str) -> Any:
    """`value` (an object with a Namespace) if the token may read-job there."""
    _found(value, message)
    require_namespace(request, value.namespace, READ_JOB)
    return value


async def nodes_list(request: Request) -> Response:
    store = server_of(request).store
    prefix = _prefix(request)
    os_attrs = query_bool(request, "os")
    return await blocking_query(
        request,
        store,
        ("nodes",),
        lambda s: [
            node_stub(n, os_attrs)
            for n in sorted(s.nodes(), key=lambda n: n.id)
            if n.id.startswith(prefix)
        ],
    )


async def node_item(request: Request) -> Response:
    store = server_of(request).store
    node_id = request.path_params["node_id"]
    return await blocking_query(
        request, store, ("nodes",), lambda s: _found(_public_node(s, node_id), "node not found")
    )


def _public_node(s: StateStore, node_id: str) -> Any:
    node = s.node_by_id(node_id)
    return node.replace(secret_id="") if node else None


async def node_allocations(request: Request) -> Response:
    store = server_of(request).store
    node_id = request.path_params["node_id"]
    acl = acl_of(request)  # node:read (or the node's own secret) is the route guard's
    return await blocking_query(
        request,
        store,
        ("allocs",),
        lambda s: [
            a
            for a in s.allocs_by_node(node_id)
            if acl.allow_namespace_operation(a.namespace, READ_JOB)
        ],
    )


async def allocs_list(request: Request) -> Response:
    store = server_of(request).store
    ns, prefix = _list_ns(request), _prefix(request)
    visible = namespace_filter(request, READ_JOB)
    resources = query_bool(request, "resources")
    task_states = query_bool(request, "task_states", True)
    cache = alloc_stub_cache(store)

    def render(allocs: list[Allocation]) -> list[AllocListStub]:
        stubs = cache.stubs(allocs, resources, task_states)
        cache.prune(store.alloc_count(), lambda alloc_id: store.alloc_by_id(alloc_id) is not None)
        return stubs

    return await blocking_query(
        request,
        store,
        ("allocs",),
        lambda s: [a for a in s.allocs(ns, prefix) if visible(a.namespace)],
        render,
    )


async def alloc_item(request: Request) -> Response:
    store = server_of(request).store
    alloc_id = request.path_params["alloc_id"]
    return await blocking_query(
        request,
        store,
        ("allocs",),
        lambda s: _readable(request, s.alloc_by_id(alloc_id), "alloc not found"),
    )


async def evals_list(request: Request) -> Response:
    store = server_of(request).store
    ns, prefix = _list_ns(request), _prefix(request)
    visible = namespace_filter(request, READ_JOB)
    job = request.query_params.get("job", "")
    status = request.query_params.get("status", "")
    return await blocking_query(
        request,
        store,
        ("evals",),
        lambda s: [
            e
            for e in s.evals(ns, prefix)
            if visible(e.namespace)
            and (not job or e.job_id == job)
            and (not status or e.status == status)
        ],
    )


async def eval_item(request: Request) -> Response:
    store = server_of(request).store
    eval_id = request.path_params["eval_id"]
    return await blocking_query(
        request,
        store,
        ("evals",),
        lambda s: _readable(request, s.eval_by_id(eval_id), "eval not found"),
    )


async def eval_allocations(request: Request) -> Response:
    store = server_of(request).store
    eval_id = request.path_params["eval_id"]
    acl = acl_of(request)

    def read(s: StateStore) -> list[Allocation]:
        ev: Evaluation | None = s.eval_by_id(eval_id)
        if ev is not None:
            require_namespace(request, ev.namespace, READ_JOB)
        return [
            a
            for a in s.allocs(None)
            if a.eval_id == eval_id and acl.allow_namespace_operation(a.namespace, READ_JOB)
        ]

    return await blocking_query(request, store, ("allocs",), read, alloc_stub_cache(store).stubs)


async def deployments_list(request: Request) -> Response:
    store = server_of(request).store
    ns, prefix = _list_ns(request), _prefix(request)
    visible = namespace_filter(request, READ_JOB)
    return await blocking_query(
        request,
        store,
        ("deployments",),
        lambda s: [d for d in s.deployments(ns, prefix) if visible(d.namespace)],
    )


async def deployment_item(request: Request) -> Response:
    store = server_of(request).store
    dep_id = request.path_params["dep_id"]
    return await blocking_query(
        request,
        store,
        ("deployments",),
        lambda s: _readable(request, s.deployment_by_id(dep_id), "deployment not found"),
    )
