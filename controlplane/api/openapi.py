"""The OpenAPI 3.1 document of the HTTP API, served at `GET /v1/openapi.json`.

Owns the vocabulary of the table (`Op`, `Param`, schema helpers), the
registry and the document builder; the rows of the core endpoints live in
openapi_core.py. The document lists only operations whose path the running
app routes (a client-only agent does not publish server endpoints).
Response bodies of stored objects use the JSON Schema msgspec derives from
the structs, so the document cannot drift from what the handlers encode;
request bodies are loose objects naming the fields handlers read; errors
are plain text. This module describes routes; it never handles them.

To publish your endpoints, call `register(...)` from your module at import
time (app.py imports it), e.g.

    register(
        Op("get", "/v1/acl/policies", "List ACL policies", array(ref(ACLPolicy)),
           blocking=True),
        Op("post", "/v1/acl/policy/{name}", "Upsert an ACL policy", None,
           body=obj(["Name"], Name=STR, Rules=STR)),
    )

Path parameters come from `{name}` in the path. `response=None` means an
empty 200 body. `fuzz=False` (`x-fuzz: false` in the document) keeps an
operation out of the schemathesis run (tests/integration/test_api_fuzz.py):
streams that never end, and operations that would destroy the agent under
test (snapshot restore, Raft peer removal). Every operation documents
ERRORS (400, 403, 404, 405, 413); add other codes with `errors=`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from controlplane import __version__

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
ANY: Schema = {}
OBJ: Schema = {"type": "object"}
ID: Schema = {"type": "string", "minLength": 1}
# a wait the fuzzer may pick stays short: `?wait=` bounds a blocking query
WAIT: Schema = {"type": "string", "pattern": "^[0-9]{1,3}ms$"}

# component schemas: every struct a row names with `ref(...)` (recorded by it)
STRUCTS: list[type] = []

# statuses any endpoint may answer, with a plain-text message
ERRORS: tuple[int, ...] = (400, 403, 404, 405, 413)


def ref(cls: type) -> Schema:
    if cls not in STRUCTS:
        STRUCTS.append(cls)
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: Iterable[str] = (), **props: Schema) -> Schema:
    """An object with these properties (others allowed, as Go's decoder allows)."""
    out: Schema = {"type": "object", "properties": props}
    req = list(required)
    if req:
        out["required"] = req
    return out


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema = field(default_factory=lambda: STR)
    required: bool = False
    description: str = ""
    repeat: bool = False  # `?topic=a&topic=b`


@dataclass(frozen=True)
class Op:
    method: str  # get | put | post | delete
    path: str  # OpenAPI template: /v1/job/{job_id}
    summary: str
    response: Schema | None = field(default_factory=lambda: ANY)  # 200 body; None: empty
    query: tuple[Param, ...] = ()
    body: Schema | None = None  # JSON request body
    body_required: bool = True
    blocking: bool = False  # adds ?index= and ?wait=
    media: str = "application/json"  # 200 media type
    errors: tuple[int, ...] = ()
    fuzz: bool = True
    tag: str = ""
    ok_status: int = 200  # the success status (204 for an empty answer)
    # other documented answers with a JSON body, e.g. a 409 carrying the
    # current object: (status, schema)
    extra: tuple[tuple[int, Schema], ...] = ()


NS = Param("namespace", description="namespace; `*` for all on list endpoints")
PREFIX = Param("prefix", description="ID prefix")
BLOCKING = (
    Param("index", {"type": "integer", "minimum": 0}, description="blocking query index"),
    Param("wait", WAIT, description="blocking query wait (Go duration)"),
)
INDEXED = obj(["Index"], Index=INT)  # a write's answer: at least the Raft index

OPERATIONS: list[Op] = []  # feature modules' rows, added by register()


def register(*ops: Op, structs: Iterable[type] = ()) -> None:
    """Publish operations. `ref(...)` already records the structs it names;
    `structs` adds schemas no row refers to."""
    OPERATIONS.extend(ops)
    STRUCTS.extend(s for s in structs if s not in STRUCTS)


_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _operation(op: Op) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": ID}
        for name in _PARAM.findall(op.path)
    ]
    for q in op.query + (BLOCKING if op.blocking else ()):
        schema = array(q.schema) if q.repeat else q.schema
        entry: dict[str, Any] = {"name": q.name, "in": "query", "schema": schema}
        if q.required:
            entry["required"] = True
        if q.description:
            entry["description"] = q.description
        params.append(entry)
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {op.media: {"schema": op.response}}
    responses: dict[str, Any] = {str(op.ok_status): ok}
    for code, schema in op.extra:
        responses[str(code)] = {
            "description": "See body",
            "content": {"application/json": {"schema": schema}},
        }
    for code in sorted(set(ERRORS + op.errors) - {c for c, _ in op.extra}):
        responses[str(code)] = {
            "description": "Error",
            "content": {"text/plain": {"schema": STR}},
        }
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": _operation_id(op),
        "parameters": params,
        "responses": responses,
    }
    if op.tag:
        out["tags"] = [op.tag]
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body}},
        }
    if not op.fuzz:
        out["x-fuzz"] = False
    return out


def _operation_id(op: Op) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", " ", op.path.replace("/v1/", " ")).split()
    return op.method + "".join(w[:1].upper() + w[1:] for w in words)


def _components() -> dict[str, Schema]:
    _, components = msgspec.json.schema_components(
        tuple(STRUCTS), ref_template="#/components/schemas/{name}"
    )
    return components


def _template(route_path: str) -> str:
    """Starlette `{rest:path}` -> a regex over OpenAPI paths it serves."""
    pattern = ""
    pos = 0
    for m in re.finditer(r"\{[^}]+\}", route_path):
        pattern += re.escape(route_path[pos : m.start()])
        pattern += ".+" if m.group(0).endswith(":path}") else "[^/]+"
        pos = m.end()
    return pattern + re.escape(route_path[pos:])


def document(routed: Iterable[str] | None = None) -> dict[str, Any]:
    """The OpenAPI document; `routed` (app route paths) keeps only served operations."""
    served = [re.compile(_template(p)) for p in routed] if routed is not None else None
    from .openapi_core import CORE  # the core rows import this module's vocabulary

    paths: dict[str, dict[str, Any]] = {}
    for op in [*CORE, *OPERATIONS]:
        if served is not None and not any(s.fullmatch(op.path) for s in served):
            continue
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nomadtui HTTP API",
            "version": __version__,
            "description": "A Nomad-compatible HTTP API. Errors are plain text.",
        },
        "paths": paths,
        "components": {"schemas": _components()},
    }


_cache: dict[tuple[str, ...], bytes] = {}


async def openapi_json(request: Request) -> Response:
    routed = tuple(r.path for r in request.app.routes if isinstance(r, Route))
    key = (*routed, str(len(OPERATIONS)))  # register() after a first request
    body = _cache.get(key)
    if body is None:
        body = _cache[key] = msgspec.json.encode(document(routed))
    return Response(body, media_type="application/json")
