"""Every Struct class a server decodes has its msgspec type information built
before the agent starts threads (a concurrent first decode crashed servers).

The crash itself is a race inside msgspec that no test here reproduces on
demand; this checks the warm-up covers what servers decode."""

from __future__ import annotations

from controlplane.raft.messages import PAYLOADS
from controlplane.structs import Allocation, Job, Node
from controlplane.structs.base import Struct
from controlplane.structs.warm import _subclasses, warm_type_info


def test_warm_up_covers_every_raft_payload_and_state_struct() -> None:
    warmed = set(warm_type_info())
    assert set(PAYLOADS.values()) <= warmed
    assert {Job, Allocation, Node} <= warmed
    ours = {c for c in _subclasses(Struct) if c.__module__.startswith("controlplane.")}
    assert ours <= warmed
