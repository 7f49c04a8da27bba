"""State snapshots for operators: save the whole state to a file, restore it.

An archive is `MAGIC` + zlib(msgpack(StateArchive)) — typed data decoded by
msgspec, never unpickled, so a bad or hostile file is refused with a clear
error instead of executing anything. Restore is one replicated entry, so
every server switches to the archived state at the same log position.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import msgspec

from controlplane.errors import ValidationError
from controlplane.raft.messages import MsgType, RestoreState
from controlplane.state import StateStore
from controlplane.state.tables import TABLES, Tables
from controlplane.structs import (
    ACLPolicy,
    ACLToken,
    Allocation,
    Deployment,
    Evaluation,
    Job,
    Namespace,
    Node,
    QuotaSpec,
    ServerMember,
    ServiceRegistration,
    Struct,
)
from controlplane.structs.periodic import PeriodicLaunch
from controlplane.structs.variables import RootKeyMeta, VariableEncrypted

if TYPE_CHECKING:
    from .server import Server

MAGIC = b"NOMADTUI-SNAPSHOT-1\n"


class StateArchive(Struct, frozen=True):
    index: int = 0
    jobs: list[Job] = msgspec.field(default_factory=list)
    job_versions: list[list[Job]] = msgspec.field(default_factory=list)
    nodes: list[Node] = msgspec.field(default_factory=list)
    evals: list[Evaluation] = msgspec.field(default_factory=list)
    allocs: list[Allocation] = msgspec.field(default_factory=list)
    deployments: list[Deployment] = msgspec.field(default_factory=list)
    servers: list[ServerMember] = msgspec.field(default_factory=list)
    services: list[ServiceRegistration] = msgspec.field(default_factory=list)
    # multi-tenancy (added with issue 9; older archives simply lack them)
    acl_policies: list[ACLPolicy] = msgspec.field(default_factory=list)
    acl_tokens: list[ACLToken] = msgspec.field(default_factory=list)
    acl_bootstrap_index: int = 0
    namespaces: list[Namespace] = msgspec.field(default_factory=list)
    quotas: list[QuotaSpec] = msgspec.field(default_factory=list)
    # periodic launch records (added with issue 10)
    periodic_launches: list[PeriodicLaunch] = msgspec.field(default_factory=list)
    # variables, still encrypted, and root key metadata (never key material:
    # a restore needs the servers' keystores to read the variables again)
    variables: list[VariableEncrypted] = msgspec.field(default_factory=list)
    root_keys: list[RootKeyMeta] = msgspec.field(default_factory=list)


def save(store: StateStore) -> bytes:
    t = store.dump()
    archive = StateArchive(
        index=t.index,
        jobs=list(t.jobs.values()),
        job_versions=[list(v) for v in t.job_versions.values()],
        nodes=list(t.nodes.values()),
        evals=list(t.evals.values()),
        allocs=list(t.allocs.values()),
        deployments=list(t.deployments.values()),
        servers=list(t.servers.values()),
        services=list(t.services.values()),
        acl_policies=list(t.acl_policies.values()),
        acl_tokens=list(t.acl_tokens.values()),
        acl_bootstrap_index=t.acl_bootstrap_index,
        namespaces=list(t.namespaces.values()),
        quotas=list(t.quotas.values()),
        periodic_launches=list(t.periodic_launches.values()),
        variables=list(t.variables.values()),
        root_keys=list(t.root_keys.values()),
    )
    return MAGIC + zlib.compress(msgspec.msgpack.encode(archive), 6)


def load(data: bytes) -> StateArchive:
    if not data.startswith(MAGIC):
        raise ValidationError("not a nomadtui snapshot (bad header)")
    try:
        raw = zlib.decompress(data[len(MAGIC) :])
        return msgspec.msgpack.decode(raw, type=StateArchive)
    except (zlib.error, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValidationError(f"corrupt snapshot: {exc}") from None


def to_tables(archive: StateArchive, index: int) -> Tables:
    """The archive as store tables, every table stamped with the restoring entry."""
    versions = {(v[0].namespace, v[0].id): list(v) for v in archive.job_versions if v}
    names = (*TABLES, "servers")
    return Tables(
        index=max(index, archive.index),
        table_index=dict.fromkeys(names, index),
        jobs={(j.namespace, j.id): j for j in archive.jobs},
        job_versions=versions,
        nodes={n.id: n for n in archive.nodes},
        evals={e.id: e for e in archive.evals},
        allocs={a.id: a for a in archive.allocs},
        deployments={d.id: d for d in archive.deployments},
        servers={m.raft_addr: m for m in archive.servers},
        services={r.id: r for r in archive.services},
        acl_policies={p.name: p for p in archive.acl_policies},
        acl_tokens={t.accessor_id: t for t in archive.acl_tokens},
        acl_token_secrets={t.secret_id: t.accessor_id for t in archive.acl_tokens},
        acl_bootstrap_index=archive.acl_bootstrap_index,
        namespaces={n.name: n for n in archive.namespaces},
        quotas={q.name: q for q in archive.quotas},
        periodic_launches={(p.namespace, p.id): p for p in archive.periodic_launches},
        variables={(v.namespace, v.path): v for v in archive.variables},
        root_keys={k.key_id: k for k in archive.root_keys},
    )


async def restore(server: Server, data: bytes) -> None:
    load(data)  # refuse a bad file before it reaches the log
    await server.raft.submit_async(MsgType.RESTORE, RestoreState(archive=data), timeout=30)
