"""Server side of quota specs: validate and submit QUOTA_* entries; usage reads.

Quotas are Nomad Enterprise's; here they are free. Every spec is validated
and its limits hashed here, whoever submitted it (CLI file or raw API body).
The store refuses deleting a quota a namespace still uses. How a quota
limits placements is the scheduler's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controlplane.errors import NotFound, ValidationError
from controlplane.jobspec.quota import validate_quota, with_hashes
from controlplane.raft.messages import DeleteByName, MsgType, QuotaUpsert
from controlplane.state.quota_usage import quota_usage
from controlplane.structs import QuotaSpec

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore
    from controlplane.state.reads import Reads

QUOTA_NOT_FOUND = "Quota not found"


class QuotaEndpoints:
    """Mixed into Server; `raft` and `store` are the server's."""

    raft: RaftNode
    store: StateStore

    async def upsert_quotas(self, quotas: list[QuotaSpec]) -> int:
        if not quotas:
            raise ValidationError("must specify at least one quota specification")
        checked = []
        for spec in quotas:
            validate_quota(spec)
            checked.append(with_hashes(spec))
        result = await self.raft.submit_async(MsgType.QUOTA_UPSERT, QuotaUpsert(quotas=checked))
        return result.index

    async def delete_quotas(self, names: list[str]) -> int:
        if not names:
            raise ValidationError("must specify at least one quota specification to delete")
        missing = [n for n in names if self.store.quota(n) is None]
        if missing:
            raise NotFound(QUOTA_NOT_FOUND)
        result = await self.raft.submit_async(MsgType.QUOTA_DELETE, DeleteByName(names=names))
        return result.index


def usage_of(reads: Reads, spec: QuotaSpec, region: str) -> dict[str, Any]:
    """Nomad's QuotaUsage: the used amounts per limit hash, for this region's limit."""
    used: dict[str, Any] = {}
    limit = spec.limit_for(region)
    if limit is not None:
        amounts = quota_usage(reads, spec)
        used[limit.hash] = {
            "Region": limit.region,
            "RegionLimit": amounts.as_resources(),
            "VariablesLimit": 0,
            "Hash": limit.hash,
        }
    return {
        "Name": spec.name,
        "Used": used,
        "CreateIndex": spec.create_index,
        "ModifyIndex": spec.modify_index,
    }
