"""Permissions: what the console's token may do, asked before an action is offered.

`resolve(client)` reads the token (`GET /v1/acl/token/self`) and its
policies (`GET /v1/acl/policy/:name`) and compiles them with the server's
own ACL model (controlplane.acl), so the console and the server never
disagree on a rule. A management token, or an agent with ACLs disabled
(token/self answers 400 `ACL support disabled`), may do everything.

Screens name what an action needs (`NEEDS = {"stop": SUBMIT_JOB}`); the
shared check (`Permissions.denied`) returns "" or the reason shown with the
disabled key ("needs submit-job in namespace web"). Nothing here touches
Textual, and the token's secret never leaves the client config: only its
name and accessor prefix are kept for display. Without a token (token/self
answers 404 `ACL token not found`) the `anonymous` policy applies, or
nothing when there is none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from controlplane.acl import (
    ACL,
    ALLOC_LIFECYCLE,
    MANAGEMENT,
    READ_LOGS,
    SCALE_JOB,
    SUBMIT_JOB,
)
from controlplane.acl.compile import compile_acl
from controlplane.acl.policy import parse
from controlplane.errors import NomadError, NotFound, PermissionDenied, ValidationError
from nomadtui.client import NomadClient

log = logging.getLogger(__name__)

NODE_WRITE = "node:write"
QUOTA_READ = "quota:read"
# coarse needs (not namespace capabilities) -> the ACL question that answers them
_COARSE = {
    NODE_WRITE: ACL.allow_node_write,
    QUOTA_READ: ACL.allow_quota_read,
}
# Nomad's scale endpoint accepts either capability
_ALTERNATIVES = {SCALE_JOB: (SCALE_JOB, SUBMIT_JOB)}

TOKEN_NOT_FOUND = "ACL token not found"
ANONYMOUS = "anonymous"
ACL_DISABLED = "ACL support disabled"

__all__ = [
    "ALLOC_LIFECYCLE",
    "NODE_WRITE",
    "QUOTA_READ",
    "READ_LOGS",
    "SCALE_JOB",
    "SUBMIT_JOB",
    "Permissions",
    "resolve",
]


@dataclass(frozen=True)
class Permissions:
    """The compiled ACL of the console's token, plus how to describe the token.

    `acl is None` means "not known (yet)": nothing is disabled then, and the
    server still has the last word on every request.
    """

    acl: ACL | None = None
    acls_enabled: bool = False
    token_name: str = ""
    accessor: str = ""

    @property
    def known(self) -> bool:
        return self.acl is not None

    def denied(self, need: str, namespace: str) -> str:
        """Why the token may not do what `need` names in `namespace` ("" if it may)."""
        acl = self.acl
        if acl is None or acl.is_management():
            return ""
        coarse = _COARSE.get(need)
        if coarse is not None:
            return "" if coarse(acl) else f"needs {need}"
        ns = namespace if namespace and namespace != "*" else "default"
        if any(acl.allow_namespace_operation(ns, cap) for cap in _ALTERNATIVES.get(need, (need,))):
            return ""
        return f"needs {need} in namespace {ns}"

    def describe(self) -> str:
        """The token for the context bar: its name and accessor prefix, never the secret."""
        if not self.acls_enabled:
            return ""
        if not self.accessor:
            return "token:anonymous"
        return f"token:{self.token_name or 'unnamed'} ({self.accessor[:8]})"


ALL_ALLOWED = Permissions(acl=MANAGEMENT)
UNKNOWN = Permissions()


def resolve(client: NomadClient) -> Permissions:
    """Ask the agent who `client`'s token is and what it may do.

    Raises PermissionDenied when the agent refuses the token (unknown
    secret: "ACL token not found"; no token with ACLs on: anonymous) so the
    caller can ask for one. Any other failure yields UNKNOWN: the console
    then offers everything and lets the server decide.
    """
    try:
        token = client.get("/v1/acl/token/self").data or {}
    except ValidationError as exc:
        if ACL_DISABLED.lower() in str(exc).lower():
            return ALL_ALLOWED
        log.warning("cannot read the console's token: %s", exc)
        return UNKNOWN
    except PermissionDenied:
        raise
    except NotFound as exc:
        # no token with ACLs on: the request runs as the anonymous policy
        if not client.config.token and token_not_found(exc):
            return _anonymous(client)
        log.warning("cannot read the console's token: %s", exc)
        return UNKNOWN
    except NomadError as exc:
        log.warning("cannot read the console's token: %s", exc)
        return UNKNOWN
    name, accessor = str(token.get("Name") or ""), str(token.get("AccessorID") or "")
    if token.get("Type") == "management":
        return Permissions(MANAGEMENT, True, name, accessor)
    rules: dict[str, str] = {}
    for policy in token.get("Policies") or []:
        try:
            data = client.get(f"/v1/acl/policy/{policy}").data or {}
        except NomadError as exc:
            # a policy deleted since the token was made grants nothing
            log.warning("cannot read ACL policy %s: %s", policy, exc)
            continue
        rules[str(policy)] = str(data.get("Rules") or "")
    return Permissions(compile_rules(rules), True, name, accessor)


def _anonymous(client: NomadClient) -> Permissions:
    """The `anonymous` policy if there is one (readable without a token), else nothing."""
    try:
        rules = {
            ANONYMOUS: str(
                (client.get(f"/v1/acl/policy/{ANONYMOUS}").data or {}).get("Rules") or ""
            )
        }
    except NomadError:
        rules = {}
    return Permissions(compile_rules(rules), True)


def compile_rules(rules: dict[str, str]) -> ACL:
    """Policy name -> rule text, compiled with the server's parser and merge.

    Lenient, as the server compiles stored policies: a rule it cannot parse
    grants nothing rather than failing the console.
    """
    parsed = []
    for name, text in rules.items():
        try:
            parsed.append(parse(text, strict=False))
        except ValidationError as exc:
            log.warning("cannot parse ACL policy %s: %s", name, exc)
    return compile_acl(parsed, names=sorted(rules))


def token_not_found(err: Any) -> bool:
    return TOKEN_NOT_FOUND.lower() in str(err).lower()
