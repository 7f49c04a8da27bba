"""The native service catalog table: registrations, their indexes, reads and writes.

Registrations are keyed by ID and indexed by (namespace, service name), by
allocation and by (namespace, job). Only the FSM writes them, through the
StateStore: `upsert_services` / `delete_services` for the clients' own
reports, and `delete_services_of_allocs` for the cleanup the store does when
an allocation turns terminal, is garbage collected, its job is purged or its
node goes down (same Raft entry, so every replica removes the same ones).
Every write is logged (`take_service_changes`) so the FSM publishes the
`Service` events of the entry. Nothing here talks to the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controlplane.structs import ServiceRegistration

from .tables import Tables

TABLE = "services"

EVENT_REGISTRATION = "ServiceRegistration"
EVENT_DEREGISTRATION = "ServiceDeregistration"

# (raft index, event type, registration) for every change not yet published
Change = tuple[int, str, ServiceRegistration]


def _add(index: dict[Any, frozenset[str]], key: Any, item: str) -> None:
    # entries are frozen and replaced, so a snapshot can share them
    ids = index.get(key, frozenset())
    if item not in ids:
        index[key] = ids | {item}


def _discard(index: dict[Any, frozenset[str]], key: Any, item: str) -> None:
    ids = index.get(key)
    if ids is not None and item in ids:
        rest = ids - {item}
        if rest:
            index[key] = rest
        else:
            del index[key]


def _same(a: ServiceRegistration, b: ServiceRegistration) -> bool:
    """Equal apart from the Raft indexes (an unchanged report is not a change)."""
    return a.replace(create_index=0, modify_index=0) == b.replace(create_index=0, modify_index=0)


class ServiceIndexes:
    """The catalog's secondary indexes and reads; subclasses provide `_t`."""

    _t: Tables
    _services_by_name: dict[tuple[str, str], frozenset[str]]
    _services_by_alloc: dict[str, frozenset[str]]
    _services_by_job: dict[tuple[str, str], frozenset[str]]

    def _rebuild_service_indexes(self) -> None:
        self._services_by_name = {}
        self._services_by_alloc = {}
        self._services_by_job = {}
        for reg in self._t.services.values():
            self._index_service(reg)

    def _copy_service_indexes(self, other: ServiceIndexes) -> None:
        self._services_by_name = dict(other._services_by_name)
        self._services_by_alloc = dict(other._services_by_alloc)
        self._services_by_job = dict(other._services_by_job)

    def _index_service(self, reg: ServiceRegistration) -> None:
        _add(self._services_by_name, (reg.namespace, reg.service_name), reg.id)
        _add(self._services_by_alloc, reg.alloc_id, reg.id)
        _add(self._services_by_job, (reg.namespace, reg.job_id), reg.id)

    def _unindex_service(self, reg: ServiceRegistration) -> None:
        _discard(self._services_by_name, (reg.namespace, reg.service_name), reg.id)
        _discard(self._services_by_alloc, reg.alloc_id, reg.id)
        _discard(self._services_by_job, (reg.namespace, reg.job_id), reg.id)

    # -- reads -----------------------------------------------------------
    def service_by_id(self, reg_id: str) -> ServiceRegistration | None:
        return self._t.services.get(reg_id)

    def _regs(self, ids: Iterable[str]) -> list[ServiceRegistration]:
        return sorted((self._t.services[i] for i in ids), key=lambda r: (r.create_index, r.id))

    def services_by_name(self, namespace: str, name: str) -> list[ServiceRegistration]:
        """Registrations of one service, oldest first (`*` namespace: all of them)."""
        if namespace == "*":
            ids: set[str] = set()
            for (_, n), found in self._services_by_name.items():
                if n == name:
                    ids |= found
            return self._regs(ids)
        return self._regs(self._services_by_name.get((namespace, name), ()))

    def services_by_alloc(self, alloc_id: str) -> list[ServiceRegistration]:
        return self._regs(self._services_by_alloc.get(alloc_id, ()))

    def services_by_job(self, namespace: str, job_id: str) -> list[ServiceRegistration]:
        return self._regs(self._services_by_job.get((namespace, job_id), ()))

    def service_names(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Nomad's ServiceRegistrationListStub list: per namespace, every service
        name with the union of its instances' tags (deduplicated, sorted)."""
        by_ns: dict[str, dict[str, set[str]]] = {}
        for (ns, name), ids in self._services_by_name.items():
            if namespace not in (None, "*") and ns != namespace:
                continue
            tags = by_ns.setdefault(ns, {}).setdefault(name, set())
            for i in ids:
                tags.update(self._t.services[i].tags)
        return [
            {
                "Namespace": ns,
                "Services": [
                    {"ServiceName": name, "Tags": sorted(tags)}
                    for name, tags in sorted(by_ns[ns].items())
                ],
            }
            for ns in sorted(by_ns)
        ]


class ServiceWrites(ServiceIndexes):
    """Catalog writes; the StateStore provides the lock and `_bump`."""

    lock: Any
    _service_changes: list[Change]

    def _bump(self, index: int, *tables: str) -> None:
        raise NotImplementedError

    def upsert_services(self, index: int, regs: Iterable[ServiceRegistration]) -> int:
        """Store registrations whose allocation exists and is not client-terminal
        (a report racing the alloc's end must not leave an orphan). An unchanged
        report keeps its ModifyIndex and wakes no one. Returns how many changed."""
        changed = 0
        with self.lock:
            for reg in regs:
                alloc = self._t.allocs.get(reg.alloc_id)
                if alloc is None or alloc.client_terminal():
                    continue
                old = self._t.services.get(reg.id)
                if old is not None and _same(old, reg):
                    continue
                if old is not None:
                    self._unindex_service(old)
                stored = reg.replace(
                    create_index=old.create_index if old else index, modify_index=index
                )
                self._t.services[reg.id] = stored
                self._index_service(stored)
                self._service_changes.append((index, EVENT_REGISTRATION, stored))
                changed += 1
            if changed:
                self._bump(index, TABLE)
        return changed

    def delete_services(self, index: int, ids: Iterable[str]) -> int:
        with self.lock:
            return self._delete_services(index, ids)

    def delete_services_of_allocs(self, index: int, alloc_ids: Iterable[str]) -> int:
        with self.lock:
            return self._delete_services_of_allocs(index, alloc_ids)

    def _delete_services_of_allocs(self, index: int, alloc_ids: Iterable[str]) -> int:
        ids = [i for a in alloc_ids for i in self._services_by_alloc.get(a, ())]
        return self._delete_services(index, sorted(ids))

    def _delete_services_of_job(self, index: int, key: tuple[str, str]) -> int:
        return self._delete_services(index, sorted(self._services_by_job.get(key, ())))

    def _delete_services(self, index: int, ids: Iterable[str]) -> int:
        deleted = 0
        for reg_id in ids:
            reg = self._t.services.pop(reg_id, None)
            if reg is None:
                continue
            self._unindex_service(reg)
            # the event carries the registration as it was, stamped with the entry
            self._service_changes.append(
                (index, EVENT_DEREGISTRATION, reg.replace(modify_index=index))
            )
            deleted += 1
        if deleted:
            self._bump(index, TABLE)
        return deleted

    def take_service_changes(self, index: int) -> list[tuple[str, ServiceRegistration]]:
        """The catalog changes entry `index` made, oldest first; forgets every
        logged change (those of an entry that failed are never published)."""
        with self.lock:
            changes, self._service_changes = self._service_changes, []
        return [(kind, reg) for i, kind, reg in changes if i == index]
