"""Copy-on-write sharing of the store's dicts with its snapshots.

Taking a snapshot hands it the store's table and index dicts as they are
(O(1)) and marks them shared; whichever side writes to a shared dict first
copies that one dict, so neither ever sees the other's later writes. Values
in them are immutable (frozen structs, frozensets, lists replaced whole),
so a shallow copy is a full one. Owns only that bookkeeping.
"""

from __future__ import annotations

from typing import Any

from .tables import Tables

# Tables (attributes of Tables) and secondary indexes (attributes of the
# store) a snapshot shares; the names never collide.
COW_TABLES = ("jobs", "job_versions", "nodes", "evals", "allocs", "deployments", "servers")
COW_INDEXES = (
    "_allocs_by_node",
    "_allocs_by_job",
    "_evals_by_job",
    "_deployments_by_job",
    "_job_touch",
)
COW_ALL = frozenset(COW_TABLES + COW_INDEXES)


class CopyOnWrite:
    _t: Tables
    # names of the dicts a snapshot (or the store) also holds
    _shared: set[str]

    def _table(self, name: str) -> dict[Any, Any]:
        """Table `name`, for writing."""
        return self._own(self._t, name)

    def _index(self, attr: str) -> dict[Any, Any]:
        """Secondary index `attr`, for writing."""
        return self._own(self, attr)

    def _own(self, holder: object, name: str) -> dict[Any, Any]:
        current: dict[Any, Any] = getattr(holder, name)
        if name not in self._shared:
            return current
        copied = dict(current)
        setattr(holder, name, copied)
        self._shared.discard(name)
        return copied


def index_add(index: dict[Any, frozenset[str]], key: Any, item: str) -> None:
    # index entries are frozen and replaced, never changed in place, so a
    # snapshot can share them: taking one is a shallow copy of the dicts
    ids = index.get(key, frozenset())
    if item not in ids:
        index[key] = ids | {item}


def index_discard(index: dict[Any, frozenset[str]], key: Any, item: str) -> None:
    ids = index.get(key)
    if ids is not None and item in ids:
        index[key] = ids - {item}


def index_add_all(index: dict[Any, frozenset[str]], adds: dict[Any, list[str]]) -> None:
    """`index_add` of many items: one new frozenset per key, not one per item
    (adding a plan's 100 allocations one by one copies the job's set 100 times)."""
    for key, items in adds.items():
        ids = index.get(key)
        if ids is None:
            index[key] = frozenset(items)
        elif not ids.issuperset(items):
            index[key] = ids.union(items)
