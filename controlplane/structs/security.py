"""Multi-tenancy objects: ACL policies and tokens, namespaces, quota specs (API.md §2.10-2.11).

Plain replicated data with Nomad's wire names. What a policy's rules mean
is the ACL engine's business (controlplane/acl); what a quota allows is the
scheduler's. A token's SecretID is a credential: API list responses and
events must never carry it (`ACLToken.stub()`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .base import Struct
from .job import Resources

TOKEN_CLIENT = "client"
TOKEN_MANAGEMENT = "management"

DEFAULT_NAMESPACE = "default"
DEFAULT_NAMESPACE_DESCRIPTION = "Default shared namespace"


class JobACL(Struct, frozen=True):
    """A policy attached to a job's workload identity (kept for wire compatibility)."""

    namespace: str = ""
    job_id: str = ""
    group: str = ""
    task: str = ""


class ACLPolicy(Struct, frozen=True):
    name: str
    description: str = ""
    # Nomad's HCL (or JSON) rule text, exactly as submitted
    rules: str = ""
    job_acl: JobACL | None = msgspec.field(default=None, name="JobACL")
    create_index: int = 0
    modify_index: int = 0


class ACLToken(Struct, frozen=True):
    accessor_id: str
    secret_id: str = ""
    name: str = ""
    type: str = TOKEN_CLIENT
    policies: list[str] | None = None
    global_: bool = msgspec.field(default=False, name="Global")
    # RFC 3339 strings as Nomad's API; "" = never expires
    create_time: str = ""
    expiration_time: str = ""
    # unix ns of expiry (0 = never): what the servers compare, set by the submitter
    expires_at: int = 0
    create_index: int = 0
    modify_index: int = 0

    def management(self) -> bool:
        return self.type == TOKEN_MANAGEMENT

    def expired(self, now_ns: int) -> bool:
        return self.expires_at != 0 and now_ns >= self.expires_at

    def stub(self) -> dict[str, Any]:
        """Nomad's ACLTokenListStub: everything but the secret."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        data.pop("SecretID", None)
        data.pop("ExpiresAt", None)
        return data


class Namespace(Struct, frozen=True):
    name: str
    description: str = ""
    # name of the QuotaSpec limiting this namespace ("" = none)
    quota: str = ""
    meta: dict[str, str] | None = None
    capabilities: dict[str, Any] | None = None
    create_index: int = 0
    modify_index: int = 0


def default_namespace(index: int = 1) -> Namespace:
    """The built-in namespace every cluster has, stored or not."""
    return Namespace(
        name=DEFAULT_NAMESPACE,
        description=DEFAULT_NAMESPACE_DESCRIPTION,
        create_index=index,
        modify_index=index,
    )


class QuotaLimit(Struct, frozen=True):
    """One region's limit. In RegionLimit, 0 means unlimited and a negative
    value means the resource is forbidden (Nomad's semantics)."""

    region: str = "global"
    region_limit: Resources = msgspec.field(default_factory=Resources)
    variables_limit: int = 0
    hash: str = ""


class QuotaSpec(Struct, frozen=True):
    name: str
    description: str = ""
    limits: list[QuotaLimit] = msgspec.field(default_factory=list)
    create_index: int = 0
    modify_index: int = 0

    def limit_for(self, region: str) -> QuotaLimit | None:
        for limit in self.limits:
            if limit.region == region:
                return limit
        return None
