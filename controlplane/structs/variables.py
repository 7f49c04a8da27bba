"""Nomad Variables and root key metadata, as replicated and as on the wire.

`VariableEncrypted` is the only form a variable takes in the replicated
state, the Raft log and snapshots: its items are AES-256-GCM ciphertext
(`Data`) under the root key `KeyID`. `VariableDecrypted` (with `Items`) and
`VariableMetadata` are what the HTTP API answers; they never enter the log.
`RootKeyMeta` describes a root key; the key material itself is never part
of any struct here (controlplane/server/keyring.py keeps it on disk).
"""

from __future__ import annotations

import re

from .base import Struct

ALGORITHM_AES256_GCM = "aes256-gcm"

KEY_ACTIVE = "active"
KEY_INACTIVE = "inactive"
# being replaced: a full rotation is re-encrypting its variables
KEY_DEPRECATED = "deprecated"

# Nomad's structs.validVariablePath, and its size limit on a variable's items
VALID_PATH = re.compile(r"^[a-zA-Z0-9\-_~/]{1,128}$")
MAX_VARIABLE_BYTES = 64 * 1024


class VariableMetadata(Struct, frozen=True):
    """A list entry of /v1/vars: never any item."""

    namespace: str
    path: str
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0


class VariableDecrypted(Struct, frozen=True):
    """A variable with its items in clear: /v1/var/:path answers only."""

    namespace: str
    path: str
    items: dict[str, str] | None = None
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0


class VariableEncrypted(Struct, frozen=True):
    """A variable as stored: `data` is nonce + AES-GCM ciphertext of the items,
    bound to (namespace, path) as associated data."""

    namespace: str
    path: str
    key_id: str
    data: bytes = b""
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    def metadata(self) -> VariableMetadata:
        return VariableMetadata(
            namespace=self.namespace,
            path=self.path,
            create_index=self.create_index,
            modify_index=self.modify_index,
            create_time=self.create_time,
            modify_time=self.modify_time,
        )

    def decrypted(self, items: dict[str, str] | None) -> VariableDecrypted:
        """The wire form with `items` (None: metadata only, as a conflict
        answer to a caller who may not read the variable)."""
        return VariableDecrypted(
            namespace=self.namespace,
            path=self.path,
            items=items,
            create_index=self.create_index,
            modify_index=self.modify_index,
            create_time=self.create_time,
            modify_time=self.modify_time,
        )


class RootKeyMeta(Struct, frozen=True):
    """A root key's metadata (Nomad's RootKeyMeta); replicated, never the key."""

    key_id: str
    algorithm: str = ALGORITHM_AES256_GCM
    create_time: int = 0
    create_index: int = 0
    modify_index: int = 0
    state: str = KEY_ACTIVE

    def active(self) -> bool:
        return self.state == KEY_ACTIVE


VAR_OP_SET = "set"
VAR_OP_DELETE = "delete"
VAR_OP_CAS = "cas"
VAR_OP_DELETE_CAS = "delete-cas"
VAR_OPS = (VAR_OP_SET, VAR_OP_DELETE, VAR_OP_CAS, VAR_OP_DELETE_CAS)


def validate_path(path: str) -> str:
    """Nomad's rules for a variable path: "" if valid, else the error message."""
    if not path:
        return "variable requires path"
    if not VALID_PATH.match(path):
        return f"invalid path {path!r}"
    parts = path.split("/")
    if parts[0] != "nomad":
        return ""
    if len(parts) == 1:
        return (
            '"nomad" is a reserved top-level directory path, but you may write variables '
            'to "nomad/jobs", "nomad/job-templates", or below'
        )
    if parts[1] == "jobs":
        return ""
    if parts[1] == "job-templates" and len(parts) == 3:
        return ""
    if parts[1] == "job-templates":
        return (
            '"nomad/job-templates" is a reserved directory path, but you may write variables '
            'at the level below it, for example, "nomad/job-templates/template-name"'
        )
    return (
        'only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths '
        'under the top-level "nomad" directory'
    )


def items_size(items: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in items.items())
