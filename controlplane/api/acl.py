"""/v1/acl/*: bootstrap, policies and tokens (API.md §2.10).

Who may call what, as Nomad: bootstrap needs no token; token/self any valid
token; a policy may be read by a token holding it (anonymous requests hold
`anonymous`); everything else needs a management token. With ACLs disabled
every endpoint answers 400 `ACL support disabled`. Token lists carry stubs
only: a SecretID leaves the server only in the response that creates a
token, in token/self, and to a management token reading a token. The
routes' OpenAPI rows are registered at the end of this module. Expired
tokens are deleted by the garbage collector (controlplane/server/gc.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from controlplane.errors import NotFound, PermissionDenied, ValidationError
from controlplane.jobspec import parse_duration
from controlplane.server.acl_endpoints import parse_rfc3339
from controlplane.structs import ACLPolicy, ACLToken
from controlplane.structs.security import TOKEN_CLIENT, JobACL

from .auth import deny
from .common import (
    acl_of,
    blocking_query,
    get_ci,
    json_response,
    query_bool,
    read_body,
    server_of,
)
from .openapi import (
    BOOL,
    INT,
    OBJ,
    PREFIX,
    STR,
    Op,
    Param,
    Schema,
    array,
    nullable,
    obj,
    ref,
    register,
)

T_POLICIES = ("acl_policies",)
T_TOKENS = ("acl_tokens",)


# -- wire shapes ------------------------------------------------------------------


def token_json(token: ACLToken) -> dict[str, Any]:
    """A full token as Nomad shows it (SecretID included)."""
    data = token.stub()
    data["SecretID"] = token.secret_id
    return _nomad_token_fields(data)


def token_stub_json(token: ACLToken) -> dict[str, Any]:
    return _nomad_token_fields(token.stub())


def _nomad_token_fields(data: dict[str, Any]) -> dict[str, Any]:
    data["ExpirationTime"] = data.get("ExpirationTime") or None
    data.setdefault("ExpirationTTL", "")
    data.setdefault("Roles", None)
    return data


def token_from_wire(data: dict[str, Any]) -> ACLToken:
    """An ACLToken from Nomad's JSON (nulls allowed, ExpirationTime -> expires_at)."""
    expiration = get_ci(data, "ExpirationTime") or ""
    policies = get_ci(data, "Policies")
    if policies is not None and (
        not isinstance(policies, list) or not all(isinstance(p, str) for p in policies)
    ):
        raise ValidationError("Policies must be a list of policy names")
    return ACLToken(
        accessor_id=_str(get_ci(data, "AccessorID"), "AccessorID"),
        secret_id=_str(get_ci(data, "SecretID"), "SecretID"),
        name=_str(get_ci(data, "Name"), "Name"),
        type=_str(get_ci(data, "Type"), "Type") or TOKEN_CLIENT,
        policies=list(policies) if policies else None,
        global_=bool(get_ci(data, "Global") or False),
        create_time=_str(get_ci(data, "CreateTime"), "CreateTime"),
        expiration_time=_str(expiration, "ExpirationTime"),
        expires_at=parse_rfc3339(expiration) if expiration else 0,
        create_index=_index(get_ci(data, "CreateIndex"), "CreateIndex"),
        modify_index=_index(get_ci(data, "ModifyIndex"), "ModifyIndex"),
    )


def policy_stub_json(policy: ACLPolicy) -> dict[str, Any]:
    return {
        "Name": policy.name,
        "Description": policy.description,
        "JobACL": policy.job_acl,
        "CreateIndex": policy.create_index,
        "ModifyIndex": policy.modify_index,
    }


def _str(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string")
    return value


def _index(value: Any, field: str) -> int:
    """A Raft index from JSON: a non-negative integer (Go's uint64), or absent."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{field} must be a non-negative integer")
    return value


def _ttl_seconds(value: Any) -> float:
    """ExpirationTTL: a Go duration string ("1h") or nanoseconds."""
    if value in (None, "", 0):
        return 0.0
    if isinstance(value, bool):
        raise ValidationError("ExpirationTTL must be a duration")
    if isinstance(value, int | float):
        return float(value) / 1e9
    if isinstance(value, str):
        try:
            return parse_duration(value) / 1e9
        except ValueError:
            raise ValidationError(f"invalid ExpirationTTL {value!r}") from None
    raise ValidationError("ExpirationTTL must be a duration")


async def _body(request: Request, optional: bool = False) -> dict[str, Any]:
    if optional and not (await request.body()).strip():
        return {}
    return await read_body(request)


def _written(index: int) -> Response:
    """Nomad's write responses: an empty body and the index header."""
    return Response(b"", status_code=200, headers={"X-Nomad-Index": str(max(index, 1))})


def _require_management(request: Request) -> None:
    if not acl_of(request).is_management():
        raise deny(request)


def _server(request: Request) -> Any:
    server = server_of(request)
    server.require_acl_enabled()
    return server


# -- bootstrap --------------------------------------------------------------------


async def bootstrap(request: Request) -> Response:
    server = _server(request)
    body = await _body(request, optional=True)
    secret = _str(get_ci(body, "BootstrapSecret"), "BootstrapSecret")
    token = await server.acl_bootstrap(secret_id=secret)
    return json_response(request, token_json(token), index=token.modify_index)


# -- policies ---------------------------------------------------------------------


async def policies_list(request: Request) -> Response:
    server = _server(request)
    acl = acl_of(request)
    prefix = request.query_params.get("prefix", "")
    held = set(_held_policies(request))

    def visible(p: ACLPolicy) -> bool:
        return acl.is_management() or p.name in held

    return await blocking_query(
        request,
        server.store,
        T_POLICIES,
        lambda s: [p for p in s.acl_policies(prefix) if visible(p)],
        render=lambda found: [policy_stub_json(p) for p in found],
    )


def _held_policies(request: Request) -> list[str]:
    state = request.scope.get("state", {})
    token: ACLToken | None = state.get("acl_token")
    if token is None:
        return ["anonymous"]
    return list(token.policies or [])


async def policy_item(request: Request) -> Response:
    server = _server(request)
    name = request.path_params["name"]
    if request.method == "GET":
        if not acl_of(request).is_management() and name not in _held_policies(request):
            raise deny(request)

        def one(s: Any) -> ACLPolicy:
            policy = s.acl_policy(name)
            if policy is None:
                raise NotFound("ACL policy not found")
            return policy

        return await blocking_query(request, server.store, T_POLICIES, one)
    _require_management(request)
    if request.method == "DELETE":
        index = await server.delete_acl_policies([name])
        return _written(index)
    body = await _body(request)
    body_name = _str(get_ci(body, "Name"), "Name") or name
    if body_name != name:
        raise ValidationError("Policy name does not match request path")
    job_acl = get_ci(body, "JobACL")
    policy = ACLPolicy(
        name=name,
        description=_str(get_ci(body, "Description"), "Description"),
        rules=_str(get_ci(body, "Rules"), "Rules"),
        job_acl=None
        if not isinstance(job_acl, dict)
        else JobACL(
            namespace=_str(get_ci(job_acl, "Namespace"), "JobACL.Namespace"),
            job_id=_str(get_ci(job_acl, "JobID"), "JobACL.JobID"),
            group=_str(get_ci(job_acl, "Group"), "JobACL.Group"),
            task=_str(get_ci(job_acl, "Task"), "JobACL.Task"),
        ),
    )
    index = await server.upsert_acl_policies([policy])
    return _written(index)


# -- tokens -----------------------------------------------------------------------


async def tokens_list(request: Request) -> Response:
    server = _server(request)
    _require_management(request)
    prefix = request.query_params.get("prefix", "")
    global_only = query_bool(request, "global")
    reverse = query_bool(request, "reverse")

    def pick(s: Any) -> list[ACLToken]:
        found = [t for t in s.acl_tokens(prefix) if t.global_ or not global_only]
        return found[::-1] if reverse else found

    return await blocking_query(
        request,
        server.store,
        T_TOKENS,
        pick,
        render=lambda found: [token_stub_json(t) for t in found],
    )


async def token_create(request: Request) -> Response:
    return await _token_upsert(request, "")


async def token_self(request: Request) -> Response:
    _server(request)
    token: ACLToken | None = request.scope.get("state", {}).get("acl_token")
    if token is None:
        raise NotFound("ACL token not found")
    return json_response(request, token_json(token), index=token.modify_index)


async def token_item(request: Request) -> Response:
    server = _server(request)
    accessor = request.path_params["accessor_id"]
    if request.method in ("PUT", "POST"):
        return await _token_upsert(request, accessor)
    if request.method == "DELETE":
        _require_management(request)
        index = await server.delete_acl_tokens([accessor])
        return _written(index)
    acl = acl_of(request)
    secret = request.scope.get("state", {}).get("acl_secret", "")

    def one(s: Any) -> ACLToken:
        token = s.acl_token(accessor)
        if token is None:
            if not acl.is_management():
                raise PermissionDenied()
            raise NotFound("ACL token not found")
        if not acl.is_management() and token.secret_id != secret:
            raise PermissionDenied()
        return token

    return await blocking_query(request, server.store, T_TOKENS, one, render=token_json)


async def _token_upsert(request: Request, accessor: str) -> Response:
    server = _server(request)
    _require_management(request)
    body = await _body(request)
    token = token_from_wire(body)
    if accessor:
        if token.accessor_id and token.accessor_id != accessor:
            raise ValidationError("Token accessor ID does not match request path")
        token = token.replace(accessor_id=accessor)
    elif token.accessor_id:
        raise ValidationError("Token accessor ID must be empty to create a token")
    # the caller never chooses a secret or a create time
    token = token.replace(secret_id="", create_time="", create_index=0, modify_index=0)
    if accessor:
        token = token.replace(expires_at=0)
    ttl = _ttl_seconds(get_ci(body, "ExpirationTTL"))
    stored = await server.upsert_acl_tokens([token], [ttl])
    if not stored:
        raise NotFound("ACL token not found")
    return json_response(request, token_json(stored[0]), index=stored[0].modify_index)


# -- OpenAPI ----------------------------------------------------------------------

_TOKEN_FIELDS: dict[str, Schema] = {
    "AccessorID": STR,
    "Name": STR,
    "Type": {"enum": ["client", "management"]},
    "Policies": nullable(array(STR)),
    "Roles": nullable(array(OBJ)),
    "Global": BOOL,
    "CreateTime": STR,
    "ExpirationTime": nullable(STR),
    "ExpirationTTL": {"anyOf": [STR, INT]},
    "CreateIndex": INT,
    "ModifyIndex": INT,
}
_STUB_REQUIRED = ["AccessorID", "Name", "Type", "Policies", "Global", "CreateTime"]
# a token stub (lists) never carries the secret
_TOKEN_STUB: Schema = {
    **obj([*_STUB_REQUIRED, "CreateIndex", "ModifyIndex"], **_TOKEN_FIELDS),
    "not": {"required": ["SecretID"]},
}
_TOKEN = obj(
    [*_STUB_REQUIRED, "SecretID", "CreateIndex", "ModifyIndex"], SecretID=STR, **_TOKEN_FIELDS
)
_TOKEN_BODY = obj(
    AccessorID=STR,
    Name=STR,
    Type={"enum": ["client", "management"]},
    Policies=nullable(array({"type": "string", "pattern": "^[a-zA-Z0-9-]{1,128}$"})),
    Global=BOOL,
    ExpirationTime=nullable(STR),
    # a Go duration ("1h", "90m") or nanoseconds
    ExpirationTTL={"anyOf": [{"type": "string", "pattern": "^[0-9]{1,4}[smh]$"}, INT]},
    CreateIndex={"type": "integer", "minimum": 0},
    ModifyIndex={"type": "integer", "minimum": 0},
)
_POLICY_STUB = obj(
    ["Name", "Description", "CreateIndex", "ModifyIndex"],
    Name=STR,
    Description=STR,
    JobACL=nullable(OBJ),
    CreateIndex=INT,
    ModifyIndex=INT,
)
_POLICY_BODY = obj(Name=STR, Description=STR, Rules=STR, JobACL=nullable(OBJ))
_TOKEN_PATH = "/v1/acl/token/{accessor_id}"
register(
    Op(
        "post",
        "/v1/acl/bootstrap",
        "Bootstrap the ACL system: the initial management token",
        _TOKEN,
        body=obj(BootstrapSecret=STR),
        body_required=False,
        tag="acl",
    ),
    Op(
        "get",
        "/v1/acl/policies",
        "List ACL policies",
        array(_POLICY_STUB),
        (PREFIX,),
        blocking=True,
        tag="acl",
    ),
    Op(
        "get",
        "/v1/acl/policy/{name}",
        "Read an ACL policy",
        ref(ACLPolicy),
        blocking=True,
        tag="acl",
    ),
    Op(
        "post",
        "/v1/acl/policy/{name}",
        "Create or update an ACL policy",
        None,
        body=_POLICY_BODY,
        tag="acl",
    ),
    Op("delete", "/v1/acl/policy/{name}", "Delete an ACL policy", None, tag="acl"),
    Op(
        "get",
        "/v1/acl/tokens",
        "List ACL tokens (without secrets)",
        array(_TOKEN_STUB),
        (PREFIX, Param("global", BOOL), Param("reverse", BOOL)),
        blocking=True,
        tag="acl",
    ),
    Op("post", "/v1/acl/token", "Create an ACL token", _TOKEN, body=_TOKEN_BODY, tag="acl"),
    Op("get", "/v1/acl/token/self", "Read the token of the request", _TOKEN, tag="acl"),
    Op("get", _TOKEN_PATH, "Read an ACL token", _TOKEN, blocking=True, tag="acl"),
    Op("post", _TOKEN_PATH, "Update an ACL token", _TOKEN, body=_TOKEN_BODY, tag="acl"),
    Op("delete", _TOKEN_PATH, "Delete an ACL token", None, tag="acl"),
    structs=[ACLPolicy, JobACL],
)
