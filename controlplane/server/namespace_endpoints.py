"""Server side of namespaces (API.md §2.11): validate and submit NAMESPACE_* entries.

The store refuses deleting `default` or a namespace with live jobs, and a
namespace naming an unknown quota, on every replica alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.raft.messages import DeleteByName, MsgType, NamespaceUpsert
from controlplane.structs import Namespace

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore


class NamespaceEndpoints:
    """Mixed into Server; `raft` and `store` are the server's."""

    raft: RaftNode
    store: StateStore

    async def upsert_namespaces(self, namespaces: list[Namespace]) -> int:
        result = await self.raft.submit_async(
            MsgType.NAMESPACE_UPSERT, NamespaceUpsert(namespaces=namespaces)
        )
        return result.index

    async def delete_namespaces(self, names: list[str]) -> int:
        result = await self.raft.submit_async(MsgType.NAMESPACE_DELETE, DeleteByName(names=names))
        return result.index
