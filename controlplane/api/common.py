"""Shared HTTP plumbing: responses with Nomad's headers, query parsing, blocking queries.

Handlers stay thin: parse with these helpers, call the server, serialise.
A blocking query waits on the store's change notifier (never polls) until
the watched tables' index passes `?index=` or `?wait=` expires (API.md §1).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from controlplane.acl import ACL, MANAGEMENT, READ_JOB
from controlplane.errors import PermissionDenied, ValidationError
from controlplane.jobspec import parse_duration
from controlplane.jobspec.limits import MAX_NESTING_DEPTH, json_depth, nesting_message

if TYPE_CHECKING:
    from controlplane.agent.agent import Agent
    from controlplane.server.server import Server
    from controlplane.state import StateStore

MAX_WAIT_S = 300.0
DEFAULT_WAIT_S = 300.0

_encoder = msgspec.json.Encoder()


def agent_of(request: Request) -> Agent:
    agent: Agent = request.app.state.agent
    return agent


def server_of(request: Request) -> Server:
    server = agent_of(request).server
    if server is None:
        from controlplane.errors import NomadError

        raise NomadError("this agent is not a server")
    return server


def json_response(
    request: Request, data: Any, index: int | None = None, status: int = 200
) -> Response:
    body = _encoder.encode(data)
    if (
        request.scope.get("query_string")
        and "pretty" in request.query_params
        and request.query_params["pretty"] != "0"
    ):
        body = msgspec.json.format(body, indent=4)
    headers: dict[str, str] = {}
    if index is not None:
        headers["X-Nomad-Index"] = str(max(index, 1))
        agent = agent_of(request)
        known, contact = agent.leader_contact()
        headers["X-Nomad-KnownLeader"] = "true" if known else "false"
        headers["X-Nomad-LastContact"] = str(contact)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValidationError(f"Failed to parse value of {name!r} ({raw!r}) as a boolean")


def query_int(request: Request, name: str, default: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            f"Failed to parse value of {name!r} ({raw!r}) as an integer"
        ) from None


def namespace_of(request: Request) -> str:
    return request.query_params.get("namespace") or "default"


# -- ACL checks (the token was resolved by the ACL middleware) ------------
def acl_of(request: Request) -> ACL:
    """The request's ACL; everything is allowed when ACLs are disabled."""
    acl: ACL | None = request.scope.get("state", {}).get("acl")
    return MANAGEMENT if acl is None else acl


def auth_headers(request: Request) -> dict[str, str]:
    """The caller's token headers, for a request proxied to another agent
    (which checks the token itself)."""
    return {
        k: v for k, v in request.headers.items() if k.lower() in ("x-nomad-token", "authorization")
    }


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied()


def require_namespace(request: Request, namespace: str, capability: str) -> None:
    """403 unless the token has `capability` in `namespace`."""
    require(acl_of(request).allow_namespace_operation(namespace, capability))


def namespace_filter(request: Request, capability: str = READ_JOB) -> Callable[[str], bool]:
    """Which namespaces a list request sees: `?namespace=` (default
    `default`), or with `*` every namespace where the token has `capability`.
    A named namespace the token may not read is a 403, as Nomad's."""
    ns = namespace_of(request)
    acl = acl_of(request)
    if ns == "*":
        if acl.is_management():
            return lambda _ns: True
        return lambda candidate: acl.allow_namespace_operation(candidate, capability)
    require(acl.allow_namespace_operation(ns, capability))
    return lambda candidate: candidate == ns


def blocking_params(request: Request) -> tuple[int, float]:
    raw_index = request.query_params.get("index")
    min_index = 0
    if raw_index:
        try:
            min_index = int(raw_index)
        except ValueError:
            raise ValidationError("Invalid index") from None
    wait = DEFAULT_WAIT_S
    raw_wait = request.query_params.get("wait")
    if raw_wait:
        try:
            wait = parse_duration(raw_wait) / 1e9
        except Exception:
            raise ValidationError("Invalid wait time") from None
    wait = min(max(wait, 0.0), MAX_WAIT_S)
    return min_index, wait


async def blocking_query(
    request: Request,
    store: StateStore,
    tables: tuple[str, ...],
    fn: Callable[[StateStore], Any],
    render: Callable[[Any], Any] | None = None,
) -> Response:
    """Answer `fn(store)` once the tables' index passes ?index= (or wait ends).

    `fn` runs under the store lock and should only gather (frozen) objects
    or take a snapshot; `render`, if given, turns them into the answer after
    the lock is released, so a big list does not hold up the FSM while it is
    built. `render` must only read what `fn` gathered.
    """
    min_index, wait = blocking_params(request)
    if min_index > 0:
        wait += random.uniform(0, wait / 16)
        deadline = time.monotonic() + wait

        def passed() -> bool:
            return store.table_index(*tables) > min_index

        while not passed() and not store.notifier.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await store.notifier.wait_async(left, passed)
    index, data = store.read(lambda s: (s.table_index(*tables), fn(s)))
    if render is not None:
        data = render(data)
    return json_response(request, data, index=index)


_TOO_DEEP = nesting_message("body")


# scope key: (body, json.loads(body)) when a middleware decoded the body
# already (region_forward, for a job's region); read_body takes the result
DECODED_BODY = "nomad.decoded_body"


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise ValidationError("Request body is empty")
    decoded = request.scope.get(DECODED_BODY)
    if decoded is not None and decoded[0] == raw:
        data = decoded[1]
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"Failed to decode request body: {exc}") from None
        except RecursionError:  # deeper than the decoder's own stack
            raise ValidationError(f"Failed to decode request body: {_TOO_DEEP}") from None
    # handlers and the job decoder recurse over bodies: bound them first
    if _may_nest_too_deeply(raw) and json_depth(data) > MAX_NESTING_DEPTH:
        raise ValidationError(f"Failed to decode request body: {_TOO_DEEP}")
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    return data


def _may_nest_too_deeply(raw: bytes) -> bool:
    """False when `raw` holds too few brackets to nest past the limit: each
    level opens with a `[` or `{` (in every encoding json.loads reads, such
    a character holds that byte), so most bodies need no walk at all."""
    return raw.count(b"{") + raw.count(b"[") > MAX_NESTING_DEPTH


def get_ci(data: dict[str, Any], key: str, default: Any = None) -> Any:
    """Case-insensitive key lookup, as Go's encoding/json matches fields."""
    if key in data:
        return data[key]
    low = key.lower()
    for k, v in data.items():
        if k.lower() == low:
            return v
    return default
