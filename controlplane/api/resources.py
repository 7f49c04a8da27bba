"""Read routes for nodes, allocations, evaluations and deployments (API.md §2.2-2.5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import NotFound
from controlplane.state import StateStore
from controlplane.structs import Allocation, AllocListStub

from .common import blocking_query, namespace_of, query_bool, server_of
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
    return await blocking_query(request, store, ("allocs",), lambda s: s.allocs_by_node(node_id))


async def allocs_list(request: Request) -> Response:
    store = server_of(request).store
    ns, prefix = _list_ns(request), _prefix(request)
    resources = query_bool(request, "resources")
    task_states = query_bool(request, "task_states", True)
    cache = alloc_stub_cache(store)

    def render(allocs: list[Allocation]) -> list[AllocListStub]:
        stubs = cache.stubs(allocs, resources, task_states)
        cache.prune(store.alloc_count(), lambda alloc_id: store.alloc_by_id(alloc_id) is not None)
        return stubs

    return await blocking_query(request, store, ("allocs",), lambda s: s.allocs(ns, prefix), render)


async def alloc_item(request: Request) -> Response:
    store = server_of(request).store
    alloc_id = request.path_params["alloc_id"]
    return await blocking_query(
        request, store, ("allocs",), lambda s: _found(s.alloc_by_id(alloc_id), "alloc not found")
    )


async def evals_list(request: Request) -> Response:
    store = server_of(request).store
    ns, prefix = _list_ns(request), _prefix(request)
    job = request.query_params.get("job", "")
    status = request.query_params.get("status", "")
    return await blocking_query(
        request,
        store,
        ("evals",),
        lambda s: [
            e
            for e in s.evals(ns, prefix)
            if (not job or e.job_id == job) and (not status or e.status == status)
        ],
    )


async def eval_item(request: Request) -> Response:
    store = server_of(request).store
    eval_id = request.path_params["eval_id"]
    return await blocking_query(
        request, store, ("evals",), lambda s: _found(s.eval_by_id(eval_id), "eval not found")
    )


async def eval_allocations(request: Request) -> Response:
    store = server_of(request).store
    eval_id = request.path_params["eval_id"]
    return await blocking_query(
        request,
        store,
        ("allocs",),
        lambda s: [a for a in s.allocs(None) if a.eval_id == eval_id],
        alloc_stub_cache(store).stubs,
    )


async def deployments_list(request: Request) -> Response:
    store = server_of(request).store
    ns, prefix = _list_ns(request), _prefix(request)
    return await blocking_query(
        request, store, ("deployments",), lambda s: s.deployments(ns, prefix)
    )


async def deployment_item(request: Request) -> Response:
    store = server_of(request).store
    dep_id = request.path_params["dep_id"]
    return await blocking_query(
        request,
        store,
        ("deployments",),
        lambda s: _found(s.deployment_by_id(dep_id), "deployment not found"),
    )
