"""What applying a Raft entry returns, and what it tells the leader's observers.

Shared by the FSM and its handler mixins (fsm_tenancy.py); no logic here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from controlplane.structs import Evaluation


class ApplyResult(msgspec.Struct, frozen=True):
    index: int
    error: str = ""
    error_status: int = 0
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    # a BATCH entry: one result per sub-entry, in order
    batch: list[ApplyResult] | None = None


@dataclass(frozen=True)
class CapacityChange:
    """What an applied entry may have freed, for blocked evaluations.

    `capacity`: cluster capacity (capacity-blocked evals); `namespaces`:
    allocations of these namespaces stopped (their quotas have room);
    `quotas`: these quota specs changed or went away; `repointed`: these
    namespaces were upserted (their quota may have changed).
    """

    index: int
    capacity: bool = True
    namespaces: frozenset[str] = frozenset()
    quotas: frozenset[str] = frozenset()
    repointed: frozenset[str] = frozenset()


class FSMListener:
    """Hooks the leader uses to react to applied entries (non-blocking)."""

    def evals_upserted(self, evals: list[Evaluation]) -> None:
        """Evaluations were written (pending ones go to the broker)."""

    def capacity_changed(self, change: CapacityChange | None = None) -> None:
        """A node became ready, allocations stopped or a quota changed: blocked
        evals may fit. None: node capacity, at the store's current index."""


def conflict(index: int, msg: str) -> ApplyResult:
    return ApplyResult(index=index, error=msg, error_status=409)


def checked(index: int, error: str) -> ApplyResult:
    """A store write's verdict: "" applied, else refused as a bad request."""
    if error:
        return ApplyResult(index=index, error=error, error_status=400)
    return ApplyResult(index=index)
