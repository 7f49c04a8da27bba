"""Replicated message types and their payloads. APPEND-ONLY.

Every write to cluster state is one of these, carried in one Raft entry as
(msg_type, msgpack payload). Never renumber or remove a type: the journal
replays old entries by number. Times are set by the submitter, never in the
FSM, so every replica applies identical values.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

from controlplane.structs import (
    ACLPolicy,
    ACLToken,
    Allocation,
    AllocClientUpdate,
    Deployment,
    DeploymentStatusUpdate,
    DesiredTransition,
    Evaluation,
    Job,
    Namespace,
    Node,
    QuotaSpec,
    ServerMember,
    ServiceRegistration,
    Struct,
)
from controlplane.structs.variables import RootKeyMeta, VariableEncrypted


class MsgType(IntEnum):
    NOOP = 0
    JOB_REGISTER = 1
    JOB_DEREGISTER = 2
    NODE_REGISTER = 3
    NODE_STATUS = 4
    EVAL_UPSERT = 5
    PLAN_APPLY = 6
    ALLOC_CLIENT_UPDATE = 7
    DEPLOYMENT_UPDATE = 8
    ALLOC_HEALTH = 9
    JOB_STABLE = 10
    # -- node / alloc operator actions (node_actions.py, drainer.py) --
    NODE_ELIGIBILITY = 11
    NODE_DRAIN = 12
    ALLOC_DESIRED_TRANSITION = 13
    SERVER_MEMBER = 14
    GC = 15
    RESTORE = 16
    # several entries committed as one (raft/group_commit.py)
    BATCH = 17
    # -- native service catalog (structs/service.py) --
    SERVICE_UPSERT = 18
    SERVICE_DELETE = 19
    # -- multi-tenancy (structs/security.py, state/security.py) --
    ACL_POLICY_UPSERT = 20
    ACL_POLICY_DELETE = 21
    ACL_TOKEN_UPSERT = 22
    ACL_TOKEN_DELETE = 23
    ACL_BOOTSTRAP = 24
    NAMESPACE_UPSERT = 25
    NAMESPACE_DELETE = 26
    QUOTA_UPSERT = 27
    QUOTA_DELETE = 28
    # -- periodic and parameterized jobs (server/periodic.py, server/dispatch.py) --
    PERIODIC_LAUNCH = 29
    JOB_DISPATCH = 30
    # -- variables and the root keyring (state/variables.py, server/keyring.py) --
    VAR_APPLY = 31
    ROOT_KEY_UPSERT = 32
    ROOT_KEY_DELETE = 33


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
    deployment_updates: list[DeploymentStatusUpdate] = msgspec.field(default_factory=list)
    # The job the plan placed: allocations sent without `job` get this one at
    # apply, so an entry carries one copy of the job instead of one per alloc.
    job: Job | None = None


class AllocClientUpdateMsg(Struct, frozen=True):
    updates: list[AllocClientUpdate]
    evals: list[Evaluation] = msgspec.field(default_factory=list)


class JobStable(Struct, frozen=True):
    namespace: str
    job_id: str
    version: int
    stable: bool = True


class DeploymentUpdate(Struct, frozen=True):
    """The watcher's or an operator's change to one deployment, with its effects.

    Empty fields change nothing. `promote` sets Promoted on `groups` (all
    groups when empty); `require_progress_by` sets per-group deadlines;
    `revert_job` registers an older spec as the job's next version.
    """

    deployment_id: str
    status: str = ""
    status_description: str = ""
    promote: bool = False
    groups: list[str] = msgspec.field(default_factory=list)
    require_progress_by: dict[str, str] = msgspec.field(default_factory=dict)
    job_stable: JobStable | None = None
    revert_job: Job | None = None
    evals: list[Evaluation] = msgspec.field(default_factory=list)
    modify_time: int = 0
    submit_time: int = 0


class AllocHealth(Struct, frozen=True):
    """Health verdicts set through the API (`health_check = "manual"`)."""

    healthy: list[str] = msgspec.field(default_factory=list)
    unhealthy: list[str] = msgspec.field(default_factory=list)
    timestamp: str = ""
    evals: list[Evaluation] = msgspec.field(default_factory=list)


class NodeEligibility(Struct, frozen=True):
    node_id: str
    eligibility: str
    now: str = ""
    evals: list[Evaluation] = msgspec.field(default_factory=list)


class NodeDrain(Struct, frozen=True):
    """Set (strategy given), cancel (None) or complete (`complete`) a node drain.

    `drain_strategy` is the wire DrainStrategy: {Deadline, IgnoreSystemJobs,
    ForceDeadline, StartedAt}; `mark_eligible` makes the node eligible again
    when the drain ends.
    """

    node_id: str
    drain_strategy: dict[str, Any] | None = None
    mark_eligible: bool = False
    complete: bool = False
    meta: dict[str, str] | None = None
    now: str = ""
    evals: list[Evaluation] = msgspec.field(default_factory=list)


class AllocDesiredTransition(Struct, frozen=True):
    """Operator or drainer transitions (Migrate) for allocs, with their evals."""

    transitions: dict[str, DesiredTransition]
    evals: list[Evaluation] = msgspec.field(default_factory=list)
    modify_time: int = 0


class ServerMemberMsg(Struct, frozen=True):
    member: ServerMember


class GarbageCollect(Struct, frozen=True):
    eval_ids: list[str] = msgspec.field(default_factory=list)
    alloc_ids: list[str] = msgspec.field(default_factory=list)
    # (namespace, job id) of stopped or dead jobs with nothing left running
    jobs: list[tuple[str, str]] = msgspec.field(default_factory=list)
    # AccessorIDs of expired ACL tokens
    acl_token_ids: list[str] = msgspec.field(default_factory=list)


class RestoreState(Struct, frozen=True):
    """A whole state archive (controlplane.server.snapshot) replacing the state."""

    archive: bytes


class BatchEntry(Struct, frozen=True):
    msg_type: int
    payload: bytes


class Batch(Struct, frozen=True):
    """Entries submitted concurrently, applied in order at one Raft index."""

    entries: list[BatchEntry]


class ServiceUpsert(Struct, frozen=True):
    """Register (or update the health of) service instances."""

    services: list[ServiceRegistration]


class ServiceDelete(Struct, frozen=True):
    """Deregister by registration id, and/or every registration of the allocs."""

    ids: list[str] = msgspec.field(default_factory=list)
    alloc_ids: list[str] = msgspec.field(default_factory=list)


class ACLPolicyUpsert(Struct, frozen=True):
    policies: list[ACLPolicy]


class ACLTokenUpsert(Struct, frozen=True):
    tokens: list[ACLToken]


class ACLBootstrap(Struct, frozen=True):
    token: ACLToken
    reset_index: int = 0


class NamespaceUpsert(Struct, frozen=True):
    namespaces: list[Namespace]


class QuotaUpsert(Struct, frozen=True):
    quotas: list[QuotaSpec]


class DeleteByName(Struct, frozen=True):
    """Deletes of policies, tokens (by AccessorID), namespaces or quotas."""

    names: list[str]


class PeriodicLaunchMsg(Struct, frozen=True):
    """A periodic parent's launch at `launch` (unix ns): its child job and
    evaluation, and the launch record, in one entry. Without a job it only
    records a launch skipped for prohibit_overlap. A child that exists
    already is not registered again (an earlier leader launched it)."""

    namespace: str
    job_id: str
    launch: int
    job: Job | None = None
    eval: Evaluation | None = None
    submit_time: int = 0


class JobDispatch(Struct, frozen=True):
    """A dispatched child of a parameterized job, with its evaluation. With an
    idempotency token, a child of the same parent holding the token already
    is returned instead (checked here, so concurrent retries agree)."""

    job: Job
    eval: Evaluation | None = None
    submit_time: int = 0


class VarApply(Struct, frozen=True):
    """A variable write (op: set, cas, delete, delete-cas). `var` is already
    encrypted by the submitter: no item value ever enters the log. The
    check-and-set against `check_index` is decided in the FSM."""

    op: str
    var: VariableEncrypted
    check_index: int = 0


class RootKeyUpsert(Struct, frozen=True):
    """A root key's metadata (never its material)."""

    key: RootKeyMeta


PAYLOADS: dict[MsgType, type[Struct]] = {
    MsgType.NOOP: Noop,
    MsgType.JOB_REGISTER: JobRegister,
    MsgType.JOB_DEREGISTER: JobDeregister,
    MsgType.NODE_REGISTER: NodeRegister,
    MsgType.NODE_STATUS: NodeStatus,
    MsgType.EVAL_UPSERT: EvalUpsert,
    MsgType.PLAN_APPLY: PlanApply,
    MsgType.ALLOC_CLIENT_UPDATE: AllocClientUpdateMsg,
    MsgType.DEPLOYMENT_UPDATE: DeploymentUpdate,
    MsgType.ALLOC_HEALTH: AllocHealth,
    MsgType.JOB_STABLE: JobStable,
    MsgType.NODE_ELIGIBILITY: NodeEligibility,
    MsgType.SERVER_MEMBER: ServerMemberMsg,
    MsgType.GC: GarbageCollect,
    MsgType.RESTORE: RestoreState,
    MsgType.NODE_DRAIN: NodeDrain,
    MsgType.ALLOC_DESIRED_TRANSITION: AllocDesiredTransition,
    MsgType.BATCH: Batch,
    MsgType.SERVICE_UPSERT: ServiceUpsert,
    MsgType.SERVICE_DELETE: ServiceDelete,
    MsgType.ACL_POLICY_UPSERT: ACLPolicyUpsert,
    MsgType.ACL_POLICY_DELETE: DeleteByName,
    MsgType.ACL_TOKEN_UPSERT: ACLTokenUpsert,
    MsgType.ACL_TOKEN_DELETE: DeleteByName,
    MsgType.ACL_BOOTSTRAP: ACLBootstrap,
    MsgType.NAMESPACE_UPSERT: NamespaceUpsert,
    MsgType.NAMESPACE_DELETE: DeleteByName,
    MsgType.QUOTA_UPSERT: QuotaUpsert,
    MsgType.QUOTA_DELETE: DeleteByName,
    MsgType.PERIODIC_LAUNCH: PeriodicLaunchMsg,
    MsgType.JOB_DISPATCH: JobDispatch,
    MsgType.VAR_APPLY: VarApply,
    MsgType.ROOT_KEY_UPSERT: RootKeyUpsert,
    MsgType.ROOT_KEY_DELETE: DeleteByName,
}

_encoder = msgspec.msgpack.Encoder()


def encode(msg: Struct) -> bytes:
    return _encoder.encode(msg)


def decode(msg_type: MsgType, payload: bytes) -> Struct:
    return msgspec.msgpack.decode(payload, type=PAYLOADS[msg_type])
