"""`operator root keyring list|rotate|remove`: the servers' root keys.

Output as Nomad's: one row per key (ID, State, Create Time; IDs shortened
unless -verbose). Talks to /v1/operator/keyring/* (management token);
never sees key material.
"""

from __future__ import annotations

from typing import Any

from . import format as fmt
from .context import Context, reporting


def _table(ctx: Context, keys: list[dict[str, Any]]) -> str:
    rows = [["Key", "State", "Create Time"]]
    rows += [
        [
            fmt.short_id(k.get("KeyID", ""), ctx.verbose),
            k.get("State", ""),
            fmt.format_unix_nano(k.get("CreateTime")),
        ]
        for k in keys
    ]
    return fmt.columnize(rows)


def run_keyring_list(ctx: Context) -> int:
    with reporting("Error listing root keys"):
        keys: list[dict[str, Any]] = ctx.client.get("/v1/operator/keyring/keys").data or []
    ctx.out(_table(ctx, keys))
    return 0


def run_keyring_rotate(ctx: Context) -> int:
    params = {"full": True} if ctx.args.full else None
    with reporting("Error rotating root key"):
        key: dict[str, Any] = (
            ctx.client.put("/v1/operator/keyring/rotate", None, params).data or {}
        ).get("Key") or {}
    ctx.out(_table(ctx, [key]))
    return 0


def run_keyring_remove(ctx: Context) -> int:
    key_id: str = ctx.args.key_id
    with reporting("Error removing root key"):
        ctx.client.delete(f"/v1/operator/keyring/key/{key_id}")
    ctx.out(f"Removed encryption key {key_id}")
    return 0
