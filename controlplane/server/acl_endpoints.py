"""Server side of ACLs: bootstrap, policies and tokens (API.md §2.10).

Validates requests and submits ACL_* entries; the store enforces the
replicated invariants (one bootstrap, unique secrets). Token secrets and
accessors are generated here, never in the FSM. Nothing here decides what a
token may do (controlplane/acl does).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from controlplane.raft.messages import (
    ACLBootstrap,
    ACLPolicyUpsert,
    ACLTokenUpsert,
    DeleteByName,
    MsgType,
)
from controlplane.structs import ACLPolicy, ACLToken
from controlplane.structs.security import TOKEN_MANAGEMENT

from .heartbeats import rfc3339_now

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore


class ACLEndpoints:
    """Mixed into Server; `raft` and `store` are the server's."""

    raft: RaftNode
    store: StateStore

    async def acl_bootstrap(self, reset_index: int = 0, secret_id: str = "") -> ACLToken:
        token = ACLToken(
            accessor_id=str(uuid.uuid4()),
            secret_id=secret_id or str(uuid.uuid4()),
            name="Bootstrap Token",
            type=TOKEN_MANAGEMENT,
            global_=True,
            create_time=rfc3339_now(),
        )
        result = await self.raft.submit_async(
            MsgType.ACL_BOOTSTRAP, ACLBootstrap(token=token, reset_index=reset_index)
        )
        stored = self.store.acl_token(token.accessor_id)
        assert stored is not None, f"bootstrap token missing after index {result.index}"
        return stored

    async def upsert_acl_policies(self, policies: list[ACLPolicy]) -> int:
        result = await self.raft.submit_async(
            MsgType.ACL_POLICY_UPSERT, ACLPolicyUpsert(policies=policies)
        )
        return result.index

    async def delete_acl_policies(self, names: list[str]) -> int:
        result = await self.raft.submit_async(MsgType.ACL_POLICY_DELETE, DeleteByName(names=names))
        return result.index

    async def upsert_acl_tokens(self, tokens: list[ACLToken]) -> list[ACLToken]:
        """Create (empty AccessorID) or update tokens; returns them as stored."""
        filled = []
        for tok in tokens:
            if not tok.accessor_id:
                tok = tok.replace(
                    accessor_id=str(uuid.uuid4()),
                    secret_id=str(uuid.uuid4()),
                    create_time=rfc3339_now(),
                )
            filled.append(tok)
        await self.raft.submit_async(MsgType.ACL_TOKEN_UPSERT, ACLTokenUpsert(tokens=filled))
        out = [self.store.acl_token(t.accessor_id) for t in filled]
        return [t for t in out if t is not None]

    async def delete_acl_tokens(self, accessor_ids: list[str]) -> int:
        result = await self.raft.submit_async(
            MsgType.ACL_TOKEN_DELETE, DeleteByName(names=accessor_ids)
        )
        return result.index
