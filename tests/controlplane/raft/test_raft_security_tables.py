"""ACL, namespace and quota entries through a real three-server Raft group:
every replica applies the same writes and refuses the same invalid ones."""

from __future__ import annotations

import pytest

from controlplane.errors import ValidationError
from controlplane.raft.messages import (
    ACLBootstrap,
    ACLPolicyUpsert,
    ACLTokenUpsert,
    DeleteByName,
    JobRegister,
    MsgType,
    NamespaceUpsert,
    QuotaUpsert,
)
from controlplane.raft.node import RaftNode
from controlplane.structs import (
    ACLPolicy,
    ACLToken,
    Job,
    Namespace,
    QuotaLimit,
    QuotaSpec,
    Resources,
)
from tests.waiting import wait_for


def _leader(nodes: list[RaftNode]) -> RaftNode:
    return next(n for n in nodes if n.is_leader())


def _converged(nodes: list[RaftNode], index: int) -> None:
    wait_for(lambda: all(n.store.index >= index for n in nodes), timeout=10, what="replicas")


def test_bootstrap_once_on_every_replica(cluster: list[RaftNode]) -> None:
    leader = _leader(cluster)
    first = ACLToken(accessor_id="a1", secret_id="s1", type="management")
    r = leader.submit(MsgType.ACL_BOOTSTRAP, ACLBootstrap(token=first))
    with pytest.raises(ValidationError, match=rf"already done \(reset index: {r.index}\)"):
        leader.submit(
            MsgType.ACL_BOOTSTRAP,
            ACLBootstrap(token=ACLToken(accessor_id="a2", secret_id="s2", type="management")),
        )
    # the reset index lets an operator who lost the token bootstrap again
    again = ACLToken(accessor_id="a3", secret_id="s3", type="management")
    r2 = leader.submit(MsgType.ACL_BOOTSTRAP, ACLBootstrap(token=again, reset_index=r.index))
    _converged(cluster, r2.index)
    for n in cluster:
        assert n.store.acl_bootstrap_index == r2.index
        assert n.store.acl_token("a2") is None
        tok = n.store.acl_token_by_secret("s3")
        assert tok is not None and tok.accessor_id == "a3"


def test_tokens_keep_their_secret_and_delete_drops_the_secret_index(
    cluster: list[RaftNode],
) -> None:
    leader = _leader(cluster)
    leader.submit(
        MsgType.ACL_POLICY_UPSERT,
        ACLPolicyUpsert(policies=[ACLPolicy(name="ro", rules='namespace "*" {policy="read"}')]),
    )
    tok = ACLToken(accessor_id="acc", secret_id="sec", policies=["ro"], create_time="t0")
    leader.submit(MsgType.ACL_TOKEN_UPSERT, ACLTokenUpsert(tokens=[tok]))
    # an update cannot change the secret or the creation facts
    upd = tok.replace(secret_id="other", name="renamed", create_time="t1")
    r = leader.submit(MsgType.ACL_TOKEN_UPSERT, ACLTokenUpsert(tokens=[upd]))
    _converged(cluster, r.index)
    for n in cluster:
        stored = n.store.acl_token("acc")
        assert stored is not None
        assert (stored.secret_id, stored.name, stored.create_time) == ("sec", "renamed", "t0")
        assert stored.create_index < stored.modify_index == r.index
        assert n.store.acl_token_by_secret("other") is None
    # a second token may not reuse a secret
    with pytest.raises(ValidationError, match="unique SecretID"):
        leader.submit(
            MsgType.ACL_TOKEN_UPSERT,
            ACLTokenUpsert(tokens=[ACLToken(accessor_id="acc2", secret_id="sec")]),
        )
    r = leader.submit(MsgType.ACL_TOKEN_DELETE, DeleteByName(names=["acc"]))
    _converged(cluster, r.index)
    for n in cluster:
        assert n.store.acl_token_by_secret("sec") is None
        assert n.store.acl_tokens() == []
        assert [p.name for p in n.store.acl_policies()] == ["ro"]


def test_namespace_and_quota_invariants(cluster: list[RaftNode]) -> None:
    leader = _leader(cluster)
    with pytest.raises(ValidationError, match='unknown quota "q"'):
        leader.submit(
            MsgType.NAMESPACE_UPSERT, NamespaceUpsert(namespaces=[Namespace(name="a", quota="q")])
        )
    quota = QuotaSpec(name="q", limits=[QuotaLimit(region_limit=Resources(cpu=1000))])
    leader.submit(MsgType.QUOTA_UPSERT, QuotaUpsert(quotas=[quota]))
    leader.submit(
        MsgType.NAMESPACE_UPSERT, NamespaceUpsert(namespaces=[Namespace(name="a", quota="q")])
    )
    with pytest.raises(ValidationError, match="used by namespace"):
        leader.submit(MsgType.QUOTA_DELETE, DeleteByName(names=["q"]))
    with pytest.raises(ValidationError, match="default namespace can not be deleted"):
        leader.submit(MsgType.NAMESPACE_DELETE, DeleteByName(names=["default"]))
    # a job in a namespace that does not exist is refused by every replica
    with pytest.raises(ValidationError, match='nonexistent namespace "nowhere"'):
        leader.submit(MsgType.JOB_REGISTER, JobRegister(job=Job(id="web", namespace="nowhere")))
    # a job that is not dead keeps its namespace alive
    leader.submit(MsgType.JOB_REGISTER, JobRegister(job=Job(id="web", namespace="a")))
    with pytest.raises(ValidationError, match='non-terminal job "web"'):
        leader.submit(MsgType.NAMESPACE_DELETE, DeleteByName(names=["a"]))
    snap_before = leader.store.snapshot()
    leader.submit(MsgType.JOB_REGISTER, JobRegister(job=Job(id="web", namespace="a", stop=True)))
    r = leader.submit(MsgType.NAMESPACE_DELETE, DeleteByName(names=["a"]))
    leader.submit(MsgType.QUOTA_DELETE, DeleteByName(names=["q"]))
    _converged(cluster, r.index + 1)
    for n in cluster:
        assert [ns.name for ns in n.store.namespaces()] == ["default"]
        assert n.store.quotas() == []
    # a snapshot taken before is not disturbed by later writes
    assert [ns.name for ns in snap_before.namespaces()] == ["a", "default"]
    assert snap_before.quota("q") is not None
