"""Keeps the servers' service catalog in line with what this client wants
registered: one background thread per agent sends the difference between
the desired registrations and what the servers last accepted through
`ServerRPC.update_services`, retrying with backoff. Callers never block on
the servers (except `flush`, which waits a bounded time). Knows nothing of
allocations, tasks or checks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from controlplane.structs import ServiceRegistration

from .rpc import ServerRPC

log = logging.getLogger(__name__)

_BACKOFF_MIN_S = 0.2
_BACKOFF_MAX_S = 10.0


def _comparable(reg: ServiceRegistration) -> ServiceRegistration:
    # the servers set the indexes; they are no reason to write again
    return reg.replace(create_index=0, modify_index=0)


class ServiceSyncer:
    def __init__(self, rpc: ServerRPC) -> None:
        self._rpc = rpc
        self._cond = threading.Condition()
        self._desired: dict[str, ServiceRegistration] = {}
        self._sent: dict[str, ServiceRegistration] = {}  # what the servers accepted
        # ids the servers may know (an upsert was attempted): deletes go out for these
        self._known: set[str] = set()
        self._gen = 0  # bumped by every change
        self._synced_gen = 0  # the generation the servers are known to match
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name="client-services", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def put(self, reg: ServiceRegistration) -> None:
        """Want `reg` registered (a no-op when nothing changed)."""
        with self._cond:
            old = self._desired.get(reg.id)
            if old is not None and _comparable(old) == _comparable(reg):
                return
            self._desired[reg.id] = reg
            self._gen += 1
            self._cond.notify_all()

    def remove(self, ids: Iterable[str]) -> None:
        """Want these registrations gone."""
        with self._cond:
            changed = False
            for rid in ids:
                if self._desired.pop(rid, None) is not None:
                    changed = True
            if changed:
                self._gen += 1
                self._cond.notify_all()

    def registered(self) -> dict[str, ServiceRegistration]:
        """What the servers accepted last (for tests and status pages)."""
        with self._cond:
            return dict(self._sent)

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` until the servers match every change made so far."""
        with self._cond:
            target = self._gen
            return self._cond.wait_for(lambda: self._synced_gen >= target or self._stopped, timeout)

    def _diff(self) -> tuple[list[ServiceRegistration], list[str]]:
        upserts = [
            reg
            for rid, reg in self._desired.items()
            if rid not in self._sent or _comparable(self._sent[rid]) != _comparable(reg)
        ]
        deletes = sorted(rid for rid in self._known if rid not in self._desired)
        return upserts, deletes

    def _loop(self) -> None:
        backoff = _BACKOFF_MIN_S
        while True:
            with self._cond:
                while not self._stopped:
                    upserts, deletes = self._diff()
                    if upserts or deletes:
                        break
                    self._synced_gen = self._gen
                    self._cond.notify_all()
                    self._cond.wait()
                if self._stopped:
                    return
                gen = self._gen
                self._known.update(r.id for r in upserts)
            try:
                self._rpc.update_services(upserts, deletes)
            except Exception as exc:
                log.warning(
                    "service registration failed upserts=%d deletes=%d: %s",
                    len(upserts),
                    len(deletes),
                    exc,
                )
                with self._cond:
                    self._cond.wait_for(lambda: self._stopped, backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = _BACKOFF_MIN_S
            with self._cond:
                for reg in upserts:
                    self._sent[reg.id] = reg
                for rid in deletes:
                    self._sent.pop(rid, None)
                    self._known.discard(rid)
                if self._gen == gen:
                    self._synced_gen = gen
                self._cond.notify_all()
