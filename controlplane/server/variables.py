"""Server side of Nomad Variables: validate, seal, submit; open for readers.

Values are encrypted here, on the server that took the request, before the
VAR_APPLY entry is built: the Raft log, its snapshots and operator
snapshots only ever carry ciphertext. Check-and-set is decided by the FSM
(state/variables.py), not here, so two servers cannot both accept
conflicting writes. Nothing here checks permissions (api/variables.py does).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controlplane.errors import ValidationError
from controlplane.raft.messages import MsgType, VarApply
from controlplane.structs.variables import (
    MAX_VARIABLE_BYTES,
    VAR_OP_CAS,
    VAR_OP_DELETE,
    VAR_OP_DELETE_CAS,
    VAR_OP_SET,
    VariableDecrypted,
    VariableEncrypted,
    items_size,
    validate_path,
)

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore

    from .keyring import Keyring

ALL_NAMESPACES = "*"


@dataclass(frozen=True)
class VarWrite:
    """A write's outcome: the Raft index, and the stored variable (a set) or
    the conflicting one (a failed check-and-set)."""

    index: int
    stored: VariableEncrypted | None = None
    conflict: VariableEncrypted | None = None


def validate(namespace: str, path: str, items: dict[str, str] | None) -> None:
    """Nomad's VariableDecrypted.Validate, with its messages."""
    if namespace == ALL_NAMESPACES:
        raise ValidationError('can not target wildcard ("*")namespace')
    error = validate_path(path)
    if error:
        raise ValidationError(error)
    if items is not None:
        if not items:
            raise ValidationError("empty variables are invalid")
        if items_size(items) > MAX_VARIABLE_BYTES:
            raise ValidationError("variables are limited to 64KiB in total size")


class VariableEndpoints:
    """Mixed into Server; `raft`, `store` and `keyring` are the server's."""

    raft: RaftNode
    store: StateStore
    keyring: Keyring

    def open_variable(self, var: VariableEncrypted) -> VariableDecrypted:
        """`var` with its items in clear (may fetch a key from a peer: blocking)."""
        return var.decrypted(self.keyring.decrypt(var))

    async def put_variable(
        self, namespace: str, path: str, items: dict[str, str], check_index: int | None
    ) -> VarWrite:
        validate(namespace, path, items)
        if self.store.namespace(namespace) is None:
            raise ValidationError(f'namespace "{namespace}" does not exist')
        sealed = await asyncio.to_thread(
            self.keyring.encrypt, namespace, path, items, time.time_ns()
        )
        op = VAR_OP_SET if check_index is None else VAR_OP_CAS
        return await self._submit(op, sealed, check_index or 0)

    async def delete_variable(self, namespace: str, path: str, check_index: int | None) -> VarWrite:
        validate(namespace, path, None)
        var = VariableEncrypted(namespace=namespace, path=path, key_id="")
        op = VAR_OP_DELETE if check_index is None else VAR_OP_DELETE_CAS
        return await self._submit(op, var, check_index or 0)

    async def _submit(self, op: str, var: VariableEncrypted, check_index: int) -> VarWrite:
        result = await self.raft.submit_async(
            MsgType.VAR_APPLY, VarApply(op=op, var=var, check_index=check_index)
        )
        return VarWrite(
            index=result.index,
            stored=result.data.get("stored"),
            conflict=result.data.get("conflict"),
        )


async def rekey(keyring: Keyring, key_id: str) -> int:
    """Re-seal every variable not sealed with `key_id` (a full rotation).
    Each write is a check-and-set on the variable's ModifyIndex, so a user's
    write racing the rekey wins and is simply looked at again. Returns the
    number of variables re-sealed."""
    done = 0
    for _ in range(5):  # rounds: a racing write sends its variable round again
        stale = [v for v in keyring.store.variables(lambda _ns: True) if v.key_id != key_id]
        if not stale:
            break
        for var in stale:
            items = await asyncio.to_thread(keyring.decrypt, var)
            sealed = await asyncio.to_thread(
                keyring.encrypt, var.namespace, var.path, items, var.modify_time
            )
            result = await keyring.raft.submit_async(
                MsgType.VAR_APPLY,
                VarApply(op=VAR_OP_CAS, var=sealed, check_index=var.modify_index),
            )
            if result.data.get("stored") is not None:
                done += 1
    return done
