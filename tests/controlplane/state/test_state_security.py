"""ACL, namespace and quota tables survive both kinds of snapshot, and an
entry the store refuses changes nothing."""

from __future__ import annotations

import pickle

from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM
from controlplane.server import snapshot
from controlplane.state import StateStore
from controlplane.structs import (
    ACLPolicy,
    ACLToken,
    Namespace,
    QuotaLimit,
    QuotaSpec,
    Resources,
    Struct,
)


class Cluster:
    def __init__(self, index: int = 0) -> None:
        self.store = StateStore()
        self.fsm = FSM(self.store)
        self.index = index

    def apply(self, mt: m.MsgType, msg: Struct) -> str:
        self.index += 1
        return self.fsm.apply(self.index, int(mt), m.encode(msg)).error


def _populated() -> Cluster:
    c = Cluster()
    c.apply(
        m.MsgType.QUOTA_UPSERT,
        m.QuotaUpsert(
            quotas=[
                QuotaSpec(
                    name="q", limits=[QuotaLimit(region_limit=Resources(cpu=500, memory_mb=256))]
                )
            ]
        ),
    )
    c.apply(
        m.MsgType.NAMESPACE_UPSERT,
        m.NamespaceUpsert(namespaces=[Namespace(name="team-a", description="A", quota="q")]),
    )
    c.apply(
        m.MsgType.ACL_POLICY_UPSERT,
        m.ACLPolicyUpsert(
            policies=[ACLPolicy(name="ro", rules='namespace "team-a" { policy = "read" }')]
        ),
    )
    c.apply(
        m.MsgType.ACL_BOOTSTRAP,
        m.ACLBootstrap(
            token=ACLToken(accessor_id="boot", secret_id="root-secret", type="management")
        ),
    )
    c.apply(
        m.MsgType.ACL_TOKEN_UPSERT,
        m.ACLTokenUpsert(
            tokens=[ACLToken(accessor_id="acc", secret_id="client-secret", policies=["ro"])]
        ),
    )
    return c


def _facts(store: StateStore) -> tuple[object, ...]:
    tok = store.acl_token_by_secret("client-secret")
    return (
        [p.name for p in store.acl_policies()],
        tok.accessor_id if tok else None,
        store.acl_bootstrap_index,
        [(n.name, n.quota) for n in store.namespaces()],
        [q.limits[0].region_limit.cpu for q in store.quotas()],
    )


EXPECTED = (["ro"], "acc", 4, [("default", ""), ("team-a", "q")], [500])


def test_raft_snapshot_and_operator_archive_keep_every_security_table() -> None:
    c = _populated()
    assert _facts(c.store) == EXPECTED
    restored = StateStore()
    restored.restore(pickle.loads(pickle.dumps(c.store.dump())))
    assert _facts(restored) == EXPECTED

    other = Cluster(index=100)
    assert other.apply(m.MsgType.RESTORE, m.RestoreState(archive=snapshot.save(c.store))) == ""
    assert _facts(other.store) == EXPECTED
    assert other.store.table_index("acl_tokens", "namespaces") == 101


def test_a_pickle_from_before_issue_9_restores_with_empty_tables() -> None:
    tables = _populated().store.dump()
    for name in ("acl_policies", "acl_tokens", "acl_token_secrets", "namespaces", "quotas"):
        del tables.__dict__[name]
    restored = StateStore()
    restored.restore(tables)
    assert [n.name for n in restored.namespaces()] == ["default"]
    assert restored.acl_token_by_secret("client-secret") is None


def test_a_refused_entry_changes_nothing() -> None:
    c = _populated()
    before = c.store.table_index("namespaces", "acl_tokens", "quotas")
    # the second namespace is fine, the first names a missing quota: all refused
    err = c.apply(
        m.MsgType.NAMESPACE_UPSERT,
        m.NamespaceUpsert(
            namespaces=[Namespace(name="ok"), Namespace(name="bad", quota="missing")]
        ),
    )
    assert 'unknown quota "missing"' in err
    err = c.apply(
        m.MsgType.ACL_TOKEN_UPSERT,
        m.ACLTokenUpsert(
            tokens=[
                ACLToken(accessor_id="new1", secret_id="s-new"),
                ACLToken(accessor_id="new2", secret_id="root-secret"),
            ]
        ),
    )
    assert "unique SecretID" in err
    assert c.store.namespace("ok") is None
    assert c.store.acl_token("new1") is None
    assert c.store.table_index("namespaces", "acl_tokens", "quotas") == before
