"""`operator raft list-peers|remove-peer` and `operator snapshot save|restore`.

Raft peers come from `GET /v1/operator/raft/configuration` and are removed with
`DELETE /v1/operator/raft/peer`. A snapshot is the servers' state as an opaque
archive: `save` checks it against the `Digest` header before writing it (to a
temporary file, renamed into place) and never overwrites an existing file;
`restore` uploads a file's bytes unchanged. Messages follow Nomad's.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from nomadtui.client.sync import SnapshotDigestMismatch

from . import format as fmt
from .context import CommandError, Context, reporting

DEFAULT_SNAPSHOT_FILE = "backup.snap"


def _quote(text: str) -> str:
    """A string as Go's `%q` prints it (double quotes, escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _os_error(op: str, path: str, err: OSError) -> str:
    """An OSError worded like Go's `*PathError`: `open FILE: no such file or directory`."""
    reason = err.strerror or str(err)
    return f"{op} {path}: {reason[:1].lower()}{reason[1:]}"


# -- raft ----------------------------------------------------------------------


def run_raft_list_peers(ctx: Context) -> int:
    with reporting("Failed to retrieve raft configuration"):
        data = ctx.client.raft_configuration(stale=bool(ctx.args.stale)) or {}
    servers: list[dict[str, Any]] = sorted(
        data.get("Servers") or [], key=lambda s: str(s.get("Node", ""))
    )
    rows: list[list[object]] = [["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]]
    for s in servers:
        row = [
            s.get("Node", ""),
            s.get("ID", ""),
            s.get("Address", ""),
            "leader" if s.get("Leader") else "follower",
            str(bool(s.get("Voter"))).lower(),
            s.get("RaftProtocol", ""),
        ]
        # Nomad prints this table without the `<none>` filler: blank stays blank.
        rows.append([None if value in ("", None) else value for value in row])
    ctx.out(fmt.columnize(rows))
    return 0


def run_raft_remove_peer(ctx: Context) -> int:
    address: str = ctx.args.peer_address or ""
    peer_id: str = ctx.args.peer_id or ""
    if not address and not peer_id:
        raise CommandError(
            "Error removing peer: an address or id is required for the peer to remove"
        )
    if address and peer_id:
        raise CommandError("Error removing peer: cannot give both an address and id")
    with reporting("Error removing peer"):
        ctx.client.raft_remove_peer(address=address or None, peer_id=peer_id or None)
    if address:
        ctx.out(f"Removed peer with address {_quote(address)}")
    else:
        ctx.out(f"Removed peer with id {_quote(peer_id)}")
    return 0


# -- snapshots -----------------------------------------------------------------


def run_snapshot_save(ctx: Context) -> int:
    path: str = ctx.args.file or DEFAULT_SNAPSHOT_FILE
    if os.path.lexists(path):
        raise CommandError(f"Destination file already exists: {_quote(path)}")
    with reporting("Failed to get snapshot file"):
        try:
            data, _digest = ctx.client.snapshot_save(stale=bool(ctx.args.stale))
        except SnapshotDigestMismatch as err:
            # Nomad notices a bad digest while copying the body into the file.
            raise CommandError(f"Failed to download snapshot file: {err}") from err
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as out:
            out.write(data)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CommandError(f"Failed to create file: {_os_error('open', tmp, err)}") from err
    try:
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CommandError(
            f"Failed to finalize snapshot file: {_os_error('rename', tmp, err)}"
        ) from err
    ctx.out(f"State file written to {path}")
    return 0


def run_snapshot_restore(ctx: Context) -> int:
    path: str = ctx.args.file
    try:
        with open(path, "rb") as src:
            data = src.read()
    except OSError as err:
        raise CommandError(
            f"Error opening snapshot file: {_quote(_os_error('open', path, err))}"
        ) from err
    with reporting("Failed to get restore snapshot"):
        ctx.client.snapshot_restore(data)
    ctx.out("Snapshot Restored")
    return 0
