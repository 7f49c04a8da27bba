"""The root keyring: AES-256 root keys that seal variables, held by servers.

Key METADATA (KeyID, algorithm, create time, state) is replicated through
Raft (ROOT_KEY_UPSERT / ROOT_KEY_DELETE). Key MATERIAL never enters the
Raft log, Raft snapshots or operator snapshots: each server keeps it in
`<data_dir>/keystore/<KeyID>.nks.json` (mode 0600), or in memory for a dev
server without a data dir. The leader creates the first key when it gains
leadership and none exists; `rotate` makes a new active key (with `full`,
every variable is re-sealed with it). A server that learns a key ID it does
not hold fetches the material from a peer that has it, eagerly from a
background thread and on demand before a decrypt, through
`GET /v1/internal/keyring/:key_id` (controlplane/api/keyring.py).

How that internal endpoint authenticates its caller (`authorize`):

- With a Raft `encrypt` key set, the servers share a secret: the caller
  signs `<unix time>\\n<key id>` with HMAC-SHA256 under a key derived from
  it (headers X-Nomad-Keyring-Time / X-Nomad-Keyring-Auth, 60 s window) and
  the answer is sealed with AES-GCM under the same derived key, so the
  material crosses plain HTTP unreadable to anyone without the secret.
- Without one, the cluster has no shared secret at all (Raft itself then
  accepts any peer), so the endpoint only answers callers whose IP address
  is the host of a Raft peer (on a loopback test cluster: 127.0.0.1), with
  the material in clear. Limits: any process on a peer's host can fetch
  keys, and without TLS the material crosses the network readable. Set
  `encrypt` (and TLS) on servers that hold variables that matter.
- A management token is accepted too when ACLs are enabled.

Never logs key material. Variable encryption: AES-256-GCM, 12-byte random
nonce prepended, `namespace NUL path` as associated data, so ciphertext
moved to another path does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controlplane.errors import InternalError, NomadError
from controlplane.raft.messages import DeleteByName, MsgType, Noop, RootKeyUpsert
from controlplane.structs.variables import (
    KEY_ACTIVE,
    KEY_DEPRECATED,
    KEY_INACTIVE,
    RootKeyMeta,
    VariableEncrypted,
)

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore

log = logging.getLogger(__name__)

KEYSTORE_DIR = "keystore"
KEY_FILE_SUFFIX = ".nks.json"
TIME_HEADER = "X-Nomad-Keyring-Time"
AUTH_HEADER = "X-Nomad-Keyring-Auth"
MAX_SKEW_S = 60.0
FETCH_TIMEOUT_S = 5.0
# the sync loop re-checks the key metadata at least this often (a commit to
# it wakes the loop sooner; this bounds how long a stop takes)
SYNC_RECHECK_S = 1.0
_NONCE = 12
_KEY_BYTES = 32


# -- the shared secret (from the Raft encrypt key) -----------------------------
def derive_secret(encrypt_key: str) -> bytes:
    """A key for keyring traffic only, derived from the Raft `encrypt` key."""
    return hmac.new(encrypt_key.encode(), b"nomadtui keyring v1", hashlib.sha256).digest()


def sign(secret: bytes, key_id: str, stamp: str) -> str:
    return hmac.new(secret, f"{stamp}\n{key_id}".encode(), hashlib.sha256).hexdigest()


def verify(secret: bytes, key_id: str, stamp: str, signature: str, now: float) -> bool:
    try:
        sent = float(stamp)
    except ValueError:
        return False
    if abs(now - sent) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(sign(secret, key_id, stamp), signature)


def seal_material(secret: bytes, key_id: str, material: bytes) -> str:
    nonce = os.urandom(_NONCE)
    return base64.b64encode(
        nonce + AESGCM(secret).encrypt(nonce, material, key_id.encode())
    ).decode()


def unseal_material(secret: bytes, key_id: str, sealed: str) -> bytes:
    raw = base64.b64decode(sealed)
    return AESGCM(secret).decrypt(raw[:_NONCE], raw[_NONCE:], key_id.encode())


def _aad(namespace: str, path: str) -> bytes:
    return f"{namespace}\x00{path}".encode()


# -- where the material lives -----------------------------------------------------
class KeyStore:
    """Key material by KeyID: files under `directory` (0600), or memory only."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for f in directory.glob("*" + KEY_FILE_SUFFIX):
                try:
                    data = json.loads(f.read_text())
                    key = base64.b64decode(data["Key"])
                    if len(key) == _KEY_BYTES:
                        self._keys[str(data["Meta"]["KeyID"])] = key
                except (OSError, ValueError, KeyError, TypeError):
                    log.warning("keyring: unreadable key file %s skipped", f.name)

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            return self._keys.get(key_id)

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._keys)

    def put(self, meta: RootKeyMeta, material: bytes) -> None:
        if self.directory is not None:
            body = json.dumps(
                {
                    "Meta": msgspec.to_builtins(meta.replace(create_index=0, modify_index=0)),
                    "Key": base64.b64encode(material).decode(),
                }
            )
            final = self.directory / f"{meta.key_id}{KEY_FILE_SUFFIX}"
            tmp = final.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        with self._lock:
            self._keys[meta.key_id] = material

    def remove(self, key_id: str) -> None:
        with self._lock:
            self._keys.pop(key_id, None)
        if self.directory is not None:
            (self.directory / f"{key_id}{KEY_FILE_SUFFIX}").unlink(missing_ok=True)


class Keyring:
    """A server's keyring: seals and opens variables, creates and rotates keys,
    fetches material it lacks from peers."""

    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        data_dir: str | None,
        encrypt_key: str | None,
        self_raft_addr: str,
    ) -> None:
        self.raft = raft
        self.store = store
        self.keys = KeyStore(Path(data_dir) / KEYSTORE_DIR if data_dir else None)
        self.secret = derive_secret(encrypt_key) if encrypt_key else None
        self.self_raft_addr = self_raft_addr
        self._url: Callable[[str], str] = lambda addr: f"http://{addr}"
        self._verify: Any = True
        self._stop = threading.Event()
        self._seen: set[str] = set()
        self._thread: threading.Thread | None = None

    def set_transport(self, url: Callable[[str], str], verify: Any) -> None:
        """How to reach peers' HTTP APIs (the agent's TLS settings)."""
        self._url, self._verify = url, verify

    # -- seal / open -------------------------------------------------------
    def encrypt(
        self, namespace: str, path: str, items: dict[str, str], now_ns: int
    ) -> VariableEncrypted:
        active = self.store.active_root_key()
        if active is None:
            raise InternalError("keyring not initialized: no active root key yet")
        key = self.material(active.key_id)
        nonce = os.urandom(_NONCE)
        plain = msgspec.json.encode(dict(sorted(items.items())))
        data = nonce + AESGCM(key).encrypt(nonce, plain, _aad(namespace, path))
        return VariableEncrypted(
            namespace=namespace,
            path=path,
            key_id=active.key_id,
            data=data,
            create_time=now_ns,
            modify_time=now_ns,
        )

    def decrypt(self, var: VariableEncrypted) -> dict[str, str]:
        key = self.material(var.key_id)
        try:
            plain = AESGCM(key).decrypt(
                var.data[:_NONCE], var.data[_NONCE:], _aad(var.namespace, var.path)
            )
        except InvalidTag:
            raise InternalError(f"variable {var.path!r} does not decrypt with its key") from None
        items: dict[str, str] = msgspec.json.decode(plain, type=dict[str, str])
        return items

    def material(self, key_id: str) -> bytes:
        """The key's material: held, or fetched from a peer (blocking)."""
        key = self.keys.get(key_id)
        if key is None:
            key = self.fetch(key_id)
        return key

    def missing(self) -> list[RootKeyMeta]:
        held = self.keys.ids()
        return [k for k in self.store.root_keys() if k.key_id not in held]

    # -- fetching from peers -------------------------------------------------
    def fetch(self, key_id: str) -> bytes:
        meta = self.store.root_key(key_id)
        if meta is None:
            raise InternalError(f"no root key {key_id}")
        errors = []
        for addr in self._peer_http_addrs():
            try:
                key = self._fetch_from(addr, key_id)
            except (httpx.HTTPError, NomadError, ValueError, KeyError, InvalidTag) as exc:
                errors.append(f"{addr}: {exc}")
                continue
            self.keys.put(meta, key)
            log.info("keyring: fetched root key key_id=%s from %s", key_id, addr)
            return key
        raise InternalError(
            f"root key {key_id} is not held by this server and no peer gave it "
            f"({'; '.join(errors) or 'no peers'})"
        )

    def _peer_http_addrs(self) -> list[str]:
        leader = self.raft.leader_addr()
        members = [
            m for m in self.store.servers() if m.raft_addr != self.self_raft_addr and m.http_addr
        ]
        members.sort(key=lambda m: m.raft_addr != leader)  # the leader first
        return [m.http_addr for m in members]

    def _fetch_from(self, addr: str, key_id: str) -> bytes:
        headers = {}
        if self.secret is not None:
            stamp = str(time.time())
            headers = {TIME_HEADER: stamp, AUTH_HEADER: sign(self.secret, key_id, stamp)}
        resp = httpx.get(
            f"{self._url(addr)}/v1/internal/keyring/{key_id}",
            headers=headers,
            timeout=FETCH_TIMEOUT_S,
            verify=self._verify,
        )
        if resp.status_code != 200:
            raise InternalError(f"HTTP {resp.status_code}: {resp.text.strip()[:200]}")
        data = resp.json()
        if self.secret is not None:
            key = unseal_material(self.secret, key_id, str(data["Sealed"]))
        else:
            key = base64.b64decode(str(data["Key"]))
        if len(key) != _KEY_BYTES:
            raise ValueError("wrong key length")
        return key

    def export(self, key_id: str) -> dict[str, Any] | None:
        """The internal endpoint's answer for an authorized caller."""
        key = self.keys.get(key_id)
        if key is None:
            return None
        if self.secret is not None:
            return {"KeyID": key_id, "Sealed": seal_material(self.secret, key_id, key)}
        return {"KeyID": key_id, "Key": base64.b64encode(key).decode()}

    def authorize(
        self, key_id: str, stamp: str, signature: str, peer_host: str, now: float
    ) -> bool:
        """Whether a server-to-server key request may be answered (see the
        module docstring); management tokens are checked by the caller."""
        if self.secret is not None:
            return bool(signature) and verify(self.secret, key_id, stamp, signature, now)
        hosts = {a.rsplit(":", 1)[0] for a in [*self.raft.peers(), self.self_raft_addr]}
        return peer_host in hosts

    # -- creating keys (leader) ------------------------------------------------
    def new_key(self, state: str = KEY_ACTIVE) -> RootKeyMeta:
        """A new key's material, written to the keystore BEFORE its metadata
        is replicated, so whoever learns the ID can fetch it from here."""
        meta = RootKeyMeta(key_id=str(uuid.uuid4()), create_time=time.time_ns(), state=state)
        self.keys.put(meta, AESGCM.generate_key(bit_length=256))
        return meta

    def initialize(self) -> None:
        """On gaining leadership: create the first key if there is none."""
        # a barrier: once our NOOP is applied, so is everything before it
        self.raft.submit(MsgType.NOOP, Noop())
        if self.store.active_root_key() is not None:
            return
        meta = self.new_key()
        self.raft.submit(MsgType.ROOT_KEY_UPSERT, RootKeyUpsert(key=meta))
        log.info("keyring: created the first root key key_id=%s", meta.key_id)

    def start_leader(self) -> None:
        def run() -> None:
            for attempt in range(20):
                if self._stop.is_set():
                    return
                try:
                    self.initialize()
                    return
                except Exception:
                    log.exception("keyring: initializing failed (attempt %d)", attempt + 1)
                    self._stop.wait(min(0.5 * (attempt + 1), 5.0))

        threading.Thread(target=run, name="keyring-init", daemon=True).start()

    async def rotate(self, full: bool) -> RootKeyMeta:
        old = self.store.active_root_key()
        meta = self.new_key()
        await self.raft.submit_async(MsgType.ROOT_KEY_UPSERT, RootKeyUpsert(key=meta))
        if full and old is not None:
            await self.raft.submit_async(
                MsgType.ROOT_KEY_UPSERT, RootKeyUpsert(key=old.replace(state=KEY_DEPRECATED))
            )
            from .variables import rekey  # the variable writes live there

            await rekey(self, meta.key_id)
            current = self.store.root_key(old.key_id)
            if current is not None and current.state == KEY_DEPRECATED:
                await self.raft.submit_async(
                    MsgType.ROOT_KEY_UPSERT,
                    RootKeyUpsert(key=current.replace(state=KEY_INACTIVE)),
                )
        return self.store.root_key(meta.key_id) or meta

    async def remove(self, key_id: str) -> None:
        await self.raft.submit_async(MsgType.ROOT_KEY_DELETE, DeleteByName(names=[key_id]))

    # -- keeping the keystore in step with the metadata (every server) ----------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._sync_loop, name="keyring-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _sync_loop(self) -> None:
        store = self.store
        seen_index = -1
        backoff = 0.5
        while not self._stop.is_set():
            index = store.table_index("root_keys")
            if index != seen_index:
                try:
                    self.sync()
                    seen_index, backoff = index, 0.5
                except Exception as exc:
                    # a peer that holds the key may not be up yet: retry
                    log.warning("keyring: sync failed, retrying in %.1fs: %s", backoff, exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
            if store.notifier.closed:
                self._stop.wait(SYNC_RECHECK_S)  # shutting down: waits return at once
                continue
            # parked through every commit but one to the key metadata (this
            # loop runs on every server, followers included)
            store.notifier.wait(SYNC_RECHECK_S, ready=partial(_keys_moved, store, seen_index))

    def sync(self) -> None:
        """Fetch material for known keys we lack; drop material of keys that
        were known and have been removed."""
        known = {k.key_id for k in self.store.root_keys()}
        for gone in self._seen - known:
            self.keys.remove(gone)
            log.info("keyring: removed root key key_id=%s", gone)
        self._seen = known
        for meta in self.missing():
            self.fetch(meta.key_id)


def _keys_moved(store: StateStore, seen_index: int) -> bool:
    """The sync loop's ready check: the key metadata moved (runs in the Raft thread)."""
    return store.table_index("root_keys") != seen_index
