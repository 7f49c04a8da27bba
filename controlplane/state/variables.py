"""Variables (encrypted) and root key metadata: tables, reads, writes.

The `variables` table holds only `VariableEncrypted` (ciphertext and the
KeyID it is sealed with); `root_keys` holds key metadata, never key
material. Both dicts are replaced whole on write, never mutated, so a
snapshot that shares the old dict is never disturbed. Check-and-set is
decided here, inside the FSM's apply, so two writers racing through
different servers are ordered by the log and exactly one wins. Nothing
here encrypts, decrypts or checks permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controlplane.structs.variables import (
    KEY_ACTIVE,
    KEY_INACTIVE,
    VAR_OP_CAS,
    VAR_OP_DELETE,
    VAR_OP_DELETE_CAS,
    RootKeyMeta,
    VariableEncrypted,
)

from .tables import Tables

T_VARIABLES = "variables"
T_ROOT_KEYS = "root_keys"

VarKey = tuple[str, str]

# Nomad's keyring endpoint wording
ACTIVE_KEY_DELETE = "active root key cannot be deleted - call rotate first"
KEY_IN_USE = "root key in use, cannot delete"
KEY_NOT_FOUND = "root key not found"


@dataclass(frozen=True)
class VarApplyOutcome:
    """What a variable write did: `stored` on success (None for a delete),
    `conflict` (the current variable, or an empty one naming the path) when
    a check-and-set failed, `error` when refused for another reason."""

    stored: VariableEncrypted | None = None
    conflict: VariableEncrypted | None = None
    error: str = ""


class VariableReads:
    """Reads; subclasses provide `_t`."""

    _t: Tables

    def variable(self, namespace: str, path: str) -> VariableEncrypted | None:
        return self._t.variables.get((namespace, path))

    def variables(
        self, namespace_ok: Callable[[str], bool], prefix: str = ""
    ) -> list[VariableEncrypted]:
        """Variables of the namespaces `namespace_ok` accepts, by (namespace, path)."""
        return [
            v
            for (ns, path), v in sorted(self._t.variables.items())
            if namespace_ok(ns) and path.startswith(prefix)
        ]

    def variables_with_key(self, key_id: str) -> list[VariableEncrypted]:
        return [v for _, v in sorted(self._t.variables.items()) if v.key_id == key_id]

    def root_key(self, key_id: str) -> RootKeyMeta | None:
        return self._t.root_keys.get(key_id)

    def root_keys(self) -> list[RootKeyMeta]:
        """Every root key, oldest first."""
        return sorted(self._t.root_keys.values(), key=lambda k: (k.create_index, k.key_id))

    def active_root_key(self) -> RootKeyMeta | None:
        for key in self._t.root_keys.values():
            if key.active():
                return key
        return None


class VariableWrites(VariableReads):
    """Writes (FSM only); the StateStore provides the lock and `_bump`."""

    lock: Any

    def _bump(self, index: int, *tables: str) -> None:
        raise NotImplementedError

    def apply_variable(
        self, index: int, op: str, var: VariableEncrypted, check_index: int = 0
    ) -> VarApplyOutcome:
        """Set or delete `var` (op: set, cas, delete, delete-cas).

        cas: `check_index` 0 means "must not exist", otherwise it must equal
        the stored variable's ModifyIndex. delete-cas likewise (0 deletes
        only what does not exist: a no-op). A set keeps the stored variable's
        CreateIndex and CreateTime."""
        key = (var.namespace, var.path)
        with self.lock:
            current = self._t.variables.get(key)
            if op in (VAR_OP_CAS, VAR_OP_DELETE_CAS):
                have = current.modify_index if current is not None else 0
                if have != check_index:
                    empty = VariableEncrypted(namespace=var.namespace, path=var.path, key_id="")
                    return VarApplyOutcome(conflict=current or empty)
            if op in (VAR_OP_DELETE, VAR_OP_DELETE_CAS):
                if current is not None:
                    table = dict(self._t.variables)
                    del table[key]
                    self._t.variables = table
                    self._bump(index, T_VARIABLES)
                return VarApplyOutcome()
            if var.key_id not in self._t.root_keys:
                # removed while this write was in flight: refuse rather than
                # store what no key can open
                return VarApplyOutcome(error=f"variable sealed with unknown root key {var.key_id}")
            stored = var.replace(
                create_index=current.create_index if current else index,
                create_time=current.create_time if current else var.create_time,
                modify_index=index,
            )
            table = dict(self._t.variables)
            table[key] = stored
            self._t.variables = table
            self._bump(index, T_VARIABLES)
            return VarApplyOutcome(stored=stored)

    def upsert_root_key(self, index: int, key: RootKeyMeta) -> None:
        """Store a key's metadata; a key made active makes the others inactive
        (a deprecated key stays deprecated until its rekey finishes)."""
        with self.lock:
            table = dict(self._t.root_keys)
            if key.state == KEY_ACTIVE:
                for kid, other in table.items():
                    if kid != key.key_id and other.state == KEY_ACTIVE:
                        table[kid] = other.replace(state=KEY_INACTIVE, modify_index=index)
            old = table.get(key.key_id)
            table[key.key_id] = key.replace(
                create_index=old.create_index if old else index, modify_index=index
            )
            self._t.root_keys = table
            self._bump(index, T_ROOT_KEYS)

    def delete_root_key(self, index: int, key_id: str) -> str:
        """Forget a key's metadata; refused for the active key and for a key
        that still seals a variable (it would become unreadable)."""
        with self.lock:
            key = self._t.root_keys.get(key_id)
            if key is None:
                return KEY_NOT_FOUND
            if key.active():
                return ACTIVE_KEY_DELETE
            if any(v.key_id == key_id for v in self._t.variables.values()):
                return KEY_IN_USE
            self._t.root_keys = {k: v for k, v in self._t.root_keys.items() if k != key_id}
            self._bump(index, T_ROOT_KEYS)
            return ""
