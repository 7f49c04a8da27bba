"""BlockedEvals with quotas: quota-blocked evaluations wake only for their quota
(spec change, usage drop in one of its namespaces, namespace re-pointed), not
on node churn; a change between snapshot and write is not lost."""

from __future__ import annotations

from controlplane.server.blocked_evals import BlockedEvals
from controlplane.server.eval_broker import EvalBroker
from controlplane.structs import Evaluation


class Recording(EvalBroker):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def enqueue(self, ev: Evaluation) -> None:
        self.sent.append(ev.id)


QUOTAS = {"team-a": "qa", "team-a2": "qa", "team-b": "qb"}


def _blocked(eval_id: str, ns: str, quota: str = "", snapshot: int = 10) -> Evaluation:
    return Evaluation(
        id=eval_id,
        namespace=ns,
        job_id=f"job-{eval_id}",
        status="blocked",
        snapshot_index=snapshot,
        quota_limit_reached=quota,
    )


def _setup() -> tuple[Recording, BlockedEvals]:
    broker = Recording()
    blocked = BlockedEvals(broker, lambda ns: QUOTAS.get(ns, ""))
    blocked.set_enabled(True)
    blocked.observe(_blocked("cap", "default"))
    blocked.observe(_blocked("a", "team-a", "qa"))
    blocked.observe(_blocked("b", "team-b", "qb"))
    return broker, blocked


def test_node_capacity_wakes_only_capacity_blocked() -> None:
    broker, blocked = _setup()
    blocked.unblock(11)
    assert broker.sent == ["cap"]


def test_alloc_stop_wakes_the_quota_of_its_namespace() -> None:
    broker, blocked = _setup()
    # an alloc of team-a2 (same quota as team-a) stopped
    blocked.unblock(11, namespaces=["team-a2"])
    assert sorted(broker.sent) == ["a", "cap"]


def test_quota_change_wakes_only_that_quota() -> None:
    broker, blocked = _setup()
    blocked.unblock(11, capacity=False, quotas=["qb"])
    assert broker.sent == ["b"]


def test_repointed_namespace_wakes_its_evals() -> None:
    broker, blocked = _setup()
    blocked.unblock(11, capacity=False, repointed=["team-a"])
    assert broker.sent == ["a"]


def test_missed_unblock_sends_the_eval_back_at_once() -> None:
    broker, blocked = _setup()
    blocked.unblock(20, capacity=False, quotas=["qa"])
    broker.sent.clear()
    # scheduled on a snapshot older than the quota change: retried now
    blocked.observe(_blocked("a", "team-a", "qa", snapshot=15))
    assert broker.sent == ["a"]
    # scheduled after it: waits for the next change (no hot loop)
    broker.sent.clear()
    blocked.observe(_blocked("a", "team-a", "qa", snapshot=21))
    assert broker.sent == []
    assert [e.id for e in blocked.quota_blocked()] == ["a", "b"]


def test_completed_eval_is_released() -> None:
    broker, blocked = _setup()
    blocked.observe(_blocked("a", "team-a", "qa").replace(status="complete"))
    blocked.unblock(11, capacity=False, quotas=["qa"])
    assert broker.sent == [] and blocked.count() == 2
