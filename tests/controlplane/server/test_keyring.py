"""The root keyring without a cluster: key files (0600, reloaded after a
restart), sealing bound to (namespace, path), the VAR_APPLY entry carrying
no plaintext, and how the internal key endpoint authorizes a caller with
and without the cluster secret."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from controlplane.errors import InternalError
from controlplane.raft.messages import VarApply, encode
from controlplane.server.keyring import (
    Keyring,
    KeyStore,
    derive_secret,
    seal_material,
    sign,
    unseal_material,
    verify,
)
from controlplane.state import StateStore


class FakeRaft:
    """What the keyring asks Raft outside of writes."""

    def __init__(self, peers: list[str]) -> None:
        self._peers = peers

    def peers(self) -> list[str]:
        return self._peers

    def leader_addr(self) -> str:
        return self._peers[0] if self._peers else ""


def _keyring(tmp: Path | None, secret: str | None = None, peers: Any = ()) -> Keyring:
    store = StateStore()
    ring = Keyring(
        FakeRaft(list(peers)),  # type: ignore[arg-type]
        store,
        str(tmp) if tmp else None,
        secret,
        "10.0.0.1:4647",
    )
    store.upsert_root_key(1, ring.new_key())
    return ring


def test_key_files_are_private_and_survive_a_restart(tmp_path: Path) -> None:
    ring = _keyring(tmp_path)
    active = ring.store.active_root_key()
    assert active is not None
    path = tmp_path / "keystore" / f"{active.key_id}.nks.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = KeyStore(tmp_path / "keystore")
    assert again.get(active.key_id) == ring.keys.get(active.key_id)


def test_a_dev_keyring_writes_nothing(tmp_path: Path) -> None:
    ring = _keyring(None)
    assert ring.keys.directory is None and len(ring.keys.ids()) == 1


def test_sealed_items_open_only_at_their_own_path(tmp_path: Path) -> None:
    ring = _keyring(tmp_path)
    sealed = ring.encrypt("default", "app/db", {"password": "hunter2"}, 5)
    assert b"hunter2" not in sealed.data and b"hunter2" not in encode(
        VarApply(op="set", var=sealed)
    )
    assert ring.decrypt(sealed) == {"password": "hunter2"}
    moved = sealed.replace(path="app/other")
    with pytest.raises(InternalError, match="does not decrypt"):
        ring.decrypt(moved)


def test_a_missing_key_with_no_peer_is_a_clear_error(tmp_path: Path) -> None:
    ring = _keyring(tmp_path)
    sealed = ring.encrypt("default", "a", {"k": "v"}, 5)
    ring.keys.remove(sealed.key_id)
    with pytest.raises(InternalError, match="not held by this server and no peer gave it"):
        ring.decrypt(sealed)


def test_signed_requests_within_the_window_only() -> None:
    secret = derive_secret("cluster-key")
    sig = sign(secret, "kid", "1000.0")
    assert verify(secret, "kid", "1000.0", sig, now=1030.0)
    assert not verify(secret, "kid", "1000.0", sig, now=1100.0)  # too old
    assert not verify(secret, "other", "1000.0", sig, now=1000.0)  # another key
    assert not verify(derive_secret("other"), "kid", "1000.0", sig, now=1000.0)
    assert not verify(secret, "kid", "not-a-time", sig, now=1000.0)


def test_material_is_sealed_for_the_wire() -> None:
    secret = derive_secret("cluster-key")
    sealed = seal_material(secret, "kid", b"k" * 32)
    assert unseal_material(secret, "kid", sealed) == b"k" * 32
    with pytest.raises(InvalidTag):
        unseal_material(secret, "another-kid", sealed)


def test_authorize_with_a_cluster_secret_needs_a_signature(tmp_path: Path) -> None:
    ring = _keyring(tmp_path, secret="cluster-key", peers=["10.0.0.2:4647"])
    stamp = "1000.0"
    good = sign(derive_secret("cluster-key"), "kid", stamp)
    assert ring.authorize("kid", stamp, good, "203.0.113.9", now=1000.0)
    # a peer host is not enough when there is a secret
    assert not ring.authorize("kid", stamp, "", "10.0.0.2", now=1000.0)
    export = ring.export(next(iter(ring.keys.ids())))
    assert export is not None and "Key" not in export and "Sealed" in export


def test_authorize_without_a_secret_trusts_raft_peer_hosts_only(tmp_path: Path) -> None:
    ring = _keyring(tmp_path, peers=["10.0.0.2:4647", "10.0.0.3:4647"])
    assert ring.authorize("kid", "", "", "10.0.0.2", now=0)
    assert ring.authorize("kid", "", "", "10.0.0.1", now=0)  # this server itself
    assert not ring.authorize("kid", "", "", "203.0.113.9", now=0)
