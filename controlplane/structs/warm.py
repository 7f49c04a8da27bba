"""Build msgspec's per-class type information up front, in one thread.

msgspec builds a Struct class's decoding information the first time the
class is decoded or converted, evaluating its (string) annotations in Python
code, and caches it on the class. Two threads doing that for the same
classes at once (the HTTP thread converting a submitted job while the Raft
thread decodes an entry carrying one) crashed servers with a segmentation
fault inside msgspec, seen in 1 of ~10 runs of the leader-kill test right
after start. An agent calls `warm_type_info()` before it starts any thread,
so no class is ever first decoded concurrently. Owns only that.
"""

from __future__ import annotations

import importlib

import msgspec

# every package whose Structs a server or client decodes
_MODULES = (
    "controlplane.structs",
    "controlplane.raft.messages",
    "controlplane.raft.results",
    "controlplane.jobdiff.structs",
    "controlplane.server.snapshot",
    "controlplane.scheduler.fit",
    "controlplane.client.state_db",
)


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    stack: list[type] = [cls]
    while stack:
        subs: list[type] = stack.pop().__subclasses__()
        out += subs
        stack += subs
    return out


def warm_type_info() -> list[type]:
    """Decoder information for every msgspec Struct class of this program; the classes."""
    for name in _MODULES:
        importlib.import_module(name)
    warmed = []
    for cls in _subclasses(msgspec.Struct):
        if not cls.__module__.startswith(("controlplane.", "nomadtui.")):
            continue
        try:
            msgspec.json.Decoder(cls)
            msgspec.msgpack.Decoder(cls)
        except (TypeError, NameError):
            continue  # a class msgspec cannot decode is never decoded
        warmed.append(cls)
    return warmed
