"""RaftNode: the pysyncobj object carrying the FSM, and how writes reach it.

Configured as RAFT-NOTES.md says: batching off (a write commits in ~1 ms,
not on the next 100 ms heartbeat), journal always with a full dump file,
bound to the configured address, short election timers. The replicated
object has exactly one replicated method, `apply(msg_type, payload)`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated

from controlplane.errors import InternalError, NoLeader, error_for_status
from controlplane.state import StateStore
from controlplane.structs import Struct

from . import transport_fix
from .fsm import FSM, ApplyResult
from .group_commit import GroupCommitter
from .messages import MsgType, encode
from .peer_probe import probe

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0
"""How long a write waits for a leader to commit it before failing with 503 (Nomad: 5 s)."""


APPEND_BATCH_BYTES = 64 * 1024 * 1024


@dataclass
class RaftConfig:
    self_addr: str = "127.0.0.1:4647"
    peers: list[str] = field(default_factory=list)
    data_dir: str | None = None
    password: str | None = None
    # single-server (dev) clusters have no peer traffic to wake the tick
    # loop; a short tick keeps one-at-a-time writes fast there.
    tick_s: float = 0.005


class _StoreConsumer(SyncObjConsumer):
    """Makes the StateStore part of pysyncobj's snapshots."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        super().__init__()

    def _serialize(self) -> Any:
        return self._store.dump()

    def _deserialize(self, data: Any) -> None:
        self._store.restore(data)


class _Replicated(SyncObj):
    def __init__(self, fsm: FSM, cfg: RaftConfig, conf: SyncObjConf) -> None:
        # set before SyncObj.__init__: excluded from pysyncobj's own pickling
        self._fsm = fsm
        super().__init__(cfg.self_addr, cfg.peers, conf, consumers=[_StoreConsumer(fsm.store)])

    @replicated
    def apply(self, msg_type: int, payload: bytes) -> ApplyResult:
        return self._fsm.apply(self.raftLastApplied + 1, msg_type, payload)

    def _checkCommandsToApply(self) -> None:
        # A lone server commits an entry on the tick after the one that
        # appended it, and nothing wakes that tick: wake it now, so a dev
        # agent's write takes ~1 ms instead of a tick period.
        last_index = self._SyncObj__getCurrentLogIndex
        before = last_index()
        super()._checkCommandsToApply()
        if not self.otherNodes and last_index() != before:
            notifier = getattr(self, "_SyncObj__pipeNotifier", None)
            if notifier is not None:
                notifier.notify()


def _sync_conf(cfg: RaftConfig) -> SyncObjConf:
    host = cfg.self_addr.rsplit(":", 1)[0]
    kwargs: dict[str, Any] = {
        "appendEntriesUseBatch": False,
        "appendEntriesPeriod": 0.05,
        "raftMinTimeout": 0.3,
        "raftMaxTimeout": 1.0,
        "connectionTimeout": 3600.0,
        "connectionRetryTime": 0.5,
        "leaderFallbackTimeout": 3.0,
        "bindAddress": cfg.self_addr if host else None,
        "dynamicMembershipChange": True,
        "autoTickPeriod": cfg.tick_s if not cfg.peers else 0.05,
        "commandsWaitLeader": True,
        # pysyncobj sends an entry bigger than this in chunks and can mark the
        # last chunk one early (it compares with the command's length, not
        # the pickled entry's): the follower's tick raises and stalls. Large
        # enough that no entry we write is chunked (a plan of thousands of
        # allocations, a state restore); it also bounds one append message.
        "appendEntriesBatchSizeBytes": APPEND_BATCH_BYTES,
    }
    if cfg.password:
        kwargs["password"] = cfg.password
    if cfg.data_dir:
        raft_dir = os.path.join(cfg.data_dir, "raft")
        os.makedirs(raft_dir, exist_ok=True)
        kwargs["journalFile"] = os.path.join(raft_dir, "journal.bin")
        kwargs["fullDumpFile"] = os.path.join(raft_dir, "dump.bin")
    return SyncObjConf(**kwargs)


class RaftNode:
    def __init__(self, store: StateStore, cfg: RaftConfig) -> None:
        transport_fix.apply()
        self.cfg = cfg
        self.fsm = FSM(store)
        self.store = store
        self._obj = _Replicated(self.fsm, cfg, _sync_conf(cfg))
        self._last_contact = time.monotonic()
        self._committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommitter] = (
            weakref.WeakKeyDictionary()
        )
        self._watch_leader_contact()

    def _watch_leader_contact(self) -> None:
        """Note when the leader last reached us (X-Nomad-LastContact on
        followers), and keep the leader's next index per follower from going
        back on acknowledgements.

        pysyncobj exposes neither: wrap its transport's message callback, and
        simply go without if its internals ever differ.
        """
        transport = getattr(self._obj, "_SyncObj__transport", None)
        original = getattr(transport, "_onMessageReceivedCallback", None)
        if transport is None or original is None:
            return

        next_index = getattr(self._obj, "_SyncObj__raftNextIndex", None)

        def on_message(node: Any, message: Any) -> None:
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "append_entries":
                self._last_contact = time.monotonic()
            if kind == "next_node_idx" and next_index is not None and not message.get("reset"):
                # pysyncobj moves the leader's next index for a follower back
                # to the follower's log end on every acknowledgement, which
                # lags what is already in flight: the leader sends entries
                # again, and the follower truncates and re-appends entries
                # it has applied ("truncating already-applied log entries").
                # Raft keeps next index optimistic; a follower that really
                # lacks entries answers with reset=True, which resets it.
                sent = next_index.get(node)
                original(node, message)
                if sent is not None and next_index.get(node, sent) < sent:
                    next_index[node] = sent
                return
            original(node, message)

        transport.setOnMessageReceivedCallback(on_message)

    def last_contact_ms(self) -> int:
        """Milliseconds since the leader was heard from; 0 on the leader."""
        if self.is_leader():
            return 0
        return int((time.monotonic() - self._last_contact) * 1000)

    # -- status ----------------------------------------------------------
    def is_leader(self) -> bool:
        return bool(self._obj._isLeader())

    def leader_addr(self) -> str:
        leader = self._obj._getLeader()
        if leader is None:
            return ""
        return str(getattr(leader, "address", leader))

    def peers(self) -> list[str]:
        nodes = [self.cfg.self_addr] + [str(getattr(n, "address", n)) for n in self._obj.otherNodes]
        return sorted(nodes)

    def probe_peer(self, addr: str, timeout: float = 2.0) -> str:
        """Empty when a server at `addr` answers and shares this node's Raft
        encryption key (peer_probe.py); otherwise why not. Blocking."""
        return probe(addr, getattr(self._obj, "encryptor", None), timeout)

    def is_ready(self) -> bool:
        return bool(self._obj.isReady())

    def status(self) -> dict[str, Any]:
        return dict(self._obj.getStatus())

    # -- writes ----------------------------------------------------------
    def submit(self, mt: MsgType, msg: Struct, timeout: float = WRITE_TIMEOUT_S) -> ApplyResult:
        """Replicate one entry and wait for it to be applied locally."""
        return self.submit_nowait(mt, msg)(timeout)

    def submit_nowait(
        self, mt: MsgType, msg: Struct, on_done: Callable[[], None] | None = None
    ) -> Callable[[float], ApplyResult]:
        """Hand one entry to Raft and return at once; the returned function
        waits (up to its timeout) for the entry to be applied locally.

        `on_done` runs in the Raft thread right after the entry was applied
        (or failed): it must be quick and must not wait on Raft.
        """
        done = threading.Event()
        box: list[Any] = []

        def callback(result: Any, err: int) -> None:
            box.append((result, err))
            if on_done is not None:
                on_done()
            done.set()

        self._obj.apply(int(mt), encode(msg), callback=callback)

        def wait(timeout: float = WRITE_TIMEOUT_S) -> ApplyResult:
            if not done.wait(timeout):
                raise NoLeader("No cluster leader")
            return _result(*box[0])

        return wait

    async def submit_async(
        self, mt: MsgType, msg: Struct, timeout: float = WRITE_TIMEOUT_S
    ) -> ApplyResult:
        """Replicate one entry from the event loop; concurrent writes share
        entries (group_commit.py), each still gets its own result."""
        fut = self._committer().submit(int(mt), encode(msg))
        try:
            result, err = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise NoLeader("No cluster leader") from None
        return _result(result, err)

    def _committer(self) -> GroupCommitter:
        loop = asyncio.get_running_loop()
        committer = self._committers.get(loop)
        if committer is None:
            committer = GroupCommitter(
                loop, lambda t, p, cb: self._obj.apply(t, p, callback=cb), expire_s=WRITE_TIMEOUT_S
            )
            self._committers[loop] = committer
        return committer

    async def change_membership(self, add: bool, addr: str, timeout: float = 10.0) -> None:
        """Add or remove a server (pysyncobj dynamic membership; leader only)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[Any, int]] = loop.create_future()

        def callback(result: Any, err: int) -> None:
            loop.call_soon_threadsafe(_set, fut, (result, err))

        if add:
            self._obj.addNodeToCluster(addr, callback=callback)
        else:
            self._obj.removeNodeFromCluster(addr, callback=callback)
        try:
            _, err = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise NoLeader("No cluster leader") from None
        if err != FAIL_REASON.SUCCESS:
            verb = "add" if add else "remove"
            raise InternalError(f"could not {verb} server {addr} (raft reason {err})")

    def wait_for_index(self, index: int, timeout: float) -> bool:
        """Block until the local store has applied `index`."""
        store = self.store
        end = time.monotonic() + timeout
        while store.index < index:
            left = end - time.monotonic()
            if left <= 0:
                return False
            # woken only once that index is applied, not on every entry before it
            store.notifier.wait(min(left, 0.5), ready=lambda: store.index >= index)
        return True

    def destroy(self) -> None:
        self._obj.destroy()


def _set(fut: asyncio.Future[tuple[Any, int]], value: tuple[Any, int]) -> None:
    if not fut.done():
        fut.set_result(value)


def _result(result: Any, err: int) -> ApplyResult:
    if err != FAIL_REASON.SUCCESS:
        if err in (FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER, FAIL_REASON.LEADER_CHANGED):
            raise NoLeader("No cluster leader")
        if err == FAIL_REASON.DISCARDED:
            # appended under a leader that lost its term before committing
            # it; the new leader's log replaced it (Nomad's wording)
            raise InternalError("leadership lost while committing log")
        raise InternalError(f"raft write failed (reason {err})")
    if not isinstance(result, ApplyResult):
        raise InternalError("raft write returned no result")
    if result.error:
        raise error_for_status(result.error_status or 500, result.error)
    return result
