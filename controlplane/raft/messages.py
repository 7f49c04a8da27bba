"""Replicated message types and their payloads. APPEND-ONLY.

Every write to cluster state is one of these, carried in one Raft entry as
(msg_type, msgpack payload). Never renumber or remove a type: the journal
replays old entries by number. Times are set by the submitter, never in the
FSM, so every replica applies identical values.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Deployment,
    Evaluation,
    Job,
    Node,
    Struct,
)


class MsgType(IntEnum):
    NOOP = 0
    JOB_REGISTER = 1
    JOB_DEREGISTER = 2
    NODE_REGISTER = 3
    NODE_STATUS = 4
    EVAL_UPSERT = 5
    PLAN_APPLY = 6
    ALLOC_CLIENT_UPDATE = 7


class Noop(Struct, frozen=True):
    pass


class JobRegister(Struct, frozen=True):
    job: Job
    eval: Evaluation | None = None
    submit_time: int = 0
    enforce_index: bool = False
    job_modify_index: int = 0


class JobDeregister(Struct, frozen=True):
    namespace: str
    job_id: str
    purge: bool = False
    eval: Evaluation | None = None
    submit_time: int = 0


class NodeRegister(Struct, frozen=True):
    node: Node
    now: str = ""
    evals: list[Evaluation] = msgspec.field(default_factory=list)


class NodeStatus(Struct, frozen=True):
    node_id: str
    status: str
    at_s: int = 0
    now: str = ""
    evals: list[Evaluation] = msgspec.field(default_factory=list)


class EvalUpsert(Struct, frozen=True):
    evals: list[Evaluation]


class PlanApply(Struct, frozen=True):
    """A committed plan: placements and stops, plus eval updates, atomically."""

    allocs: list[Allocation] = msgspec.field(default_factory=list)
    evals: list[Evaluation] = msgspec.field(default_factory=list)
    deployment: Deployment | None = None


class AllocClientUpdateMsg(Struct, frozen=True):
    updates: list[AllocClientUpdate]
    evals: list[Evaluation] = msgspec.field(default_factory=list)


PAYLOADS: dict[MsgType, type[Struct]] = {
    MsgType.NOOP: Noop,
    MsgType.JOB_REGISTER: JobRegister,
    MsgType.JOB_DEREGISTER: JobDeregister,
    MsgType.NODE_REGISTER: NodeRegister,
    MsgType.NODE_STATUS: NodeStatus,
    MsgType.EVAL_UPSERT: EvalUpsert,
    MsgType.PLAN_APPLY: PlanApply,
    MsgType.ALLOC_CLIENT_UPDATE: AllocClientUpdateMsg,
}

_encoder = msgspec.msgpack.Encoder()


def encode(msg: Struct) -> bytes:
    return _encoder.encode(msg)


def decode(msg_type: MsgType, payload: bytes) -> Struct:
    return msgspec.msgpack.decode(payload, type=PAYLOADS[msg_type])
