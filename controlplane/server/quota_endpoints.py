"""Server side of quota specs: validate and submit QUOTA_* entries.

Quotas are Nomad Enterprise's; here they are free. The store refuses deleting
a quota a namespace still uses. How a quota limits placements is the
scheduler's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.raft.messages import DeleteByName, MsgType, QuotaUpsert
from controlplane.structs import QuotaSpec

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore


class QuotaEndpoints:
    """Mixed into Server; `raft` and `store` are the server's."""

    raft: RaftNode
    store: StateStore

    async def upsert_quotas(self, quotas: list[QuotaSpec]) -> int:
        result = await self.raft.submit_async(MsgType.QUOTA_UPSERT, QuotaUpsert(quotas=quotas))
        return result.index

    async def delete_quotas(self, names: list[str]) -> int:
        result = await self.raft.submit_async(MsgType.QUOTA_DELETE, DeleteByName(names=names))
        return result.index
