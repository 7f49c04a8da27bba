"""Base struct: frozen msgspec Structs whose JSON names are Nomad's.

Python fields are snake_case; the wire name is derived (`job_id` -> `JobID`,
`memory_mb` -> `MemoryMB`) with acronyms kept upper-case as Nomad does.
Where Nomad breaks its own rule (`Cpu` in AllocatedResources) a field names
itself with `msgspec.field(name=...)`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

_ACRONYMS = {
    "id": "ID",
    "ids": "IDs",
    "mb": "MB",
    "cpu": "CPU",
    "ip": "IP",
    "http": "HTTP",
    "tls": "TLS",
    "tg": "TG",
    "cidr": "CIDR",
    "dns": "DNS",
    "iops": "IOPS",
    "mbits": "MBits",
}


def nomad_name(name: str) -> str:
    """snake_case field name -> Nomad's Go field name."""
    return "".join(_ACRONYMS.get(p, p[:1].upper() + p[1:]) for p in name.split("_"))


class Struct(msgspec.Struct, frozen=True, kw_only=True, rename=nomad_name, gc=False):
    """Every control-plane object: immutable, Nomad field names on the wire.

    Not tracked by Python's cyclic garbage collector (`gc=False`): the state
    is trees of frozen structs, which cannot form reference cycles, and a
    server holds millions of them. Tracked, every full collection walked them
    all: at 100,000 allocations the servers spent seconds per minute in
    collections of up to 1.2 s, long enough for followers to call elections.
    Refcounting still frees them. Never put an object that can refer back
    to its holder (a callable, a handle) in a Struct field.
    """

    def replace(self: S, **changes: Any) -> S:
        return msgspec.structs.replace(self, **changes)


S = TypeVar("S", bound=Struct)

_encoder = msgspec.json.Encoder()


def to_json(obj: Any) -> bytes:
    return _encoder.encode(obj)


def to_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


def from_builtins(data: Any, typ: type[S]) -> S:
    """Lenient decode of API-shaped data (unknown fields ignored)."""
    return msgspec.convert(data, typ, strict=False)


def decode_json(raw: bytes | str, typ: type[S]) -> S:
    return msgspec.json.decode(raw, type=typ, strict=False)
