"""EvalBroker: priority order, one eval per job in flight, ack/nack and delivery limit."""

from __future__ import annotations

from controlplane.server.eval_broker import DELIVERY_LIMIT, EvalBroker
from controlplane.structs import Evaluation


def _ev(eid: str, job: str, prio: int = 50) -> Evaluation:
    return Evaluation(id=eid, job_id=job, priority=prio)


def test_disabled_broker_drops_evals() -> None:
    b = EvalBroker()
    b.enqueue(_ev("e1", "a"))
    b.set_enabled(True)
    assert b.dequeue(0.01) is None


def test_priority_order_and_one_per_job() -> None:
    b = EvalBroker()
    b.set_enabled(True)
    b.enqueue(_ev("low", "a", 10))
    b.enqueue(_ev("high", "b", 90))
    b.enqueue(_ev("a-second", "a", 99))  # same job as "low": waits
    first = b.dequeue(0.1)
    second = b.dequeue(0.1)
    assert first is not None and second is not None
    assert [first[0].id, second[0].id] == ["high", "low"]
    assert b.dequeue(0.01) is None  # job a has an eval in flight
    b.ack("low", second[1])
    third = b.dequeue(0.1)
    assert third is not None and third[0].id == "a-second"


def test_duplicate_enqueue_is_ignored() -> None:
    b = EvalBroker()
    b.set_enabled(True)
    b.enqueue(_ev("e1", "a"))
    b.enqueue(_ev("e1", "a"))
    assert b.stats() == {"ready": 1, "unacked": 0, "pending": 0, "delayed": 0}


def test_nack_redelivers_until_the_limit_then_reports_failure() -> None:
    failed: list[str] = []
    b = EvalBroker(on_failed=lambda ev: failed.append(ev.id))
    b.set_enabled(True)
    b.enqueue(_ev("e1", "a"))
    for _ in range(DELIVERY_LIMIT):
        item = b.dequeue(0.1)
        assert item is not None
        b.nack(item[0].id, item[1])
    assert failed == ["e1"]
    assert b.dequeue(0.01) is None


def test_ack_with_wrong_token_is_ignored() -> None:
    b = EvalBroker()
    b.set_enabled(True)
    b.enqueue(_ev("e1", "a"))
    item = b.dequeue(0.1)
    assert item is not None
    b.ack("e1", "not-the-token")
    assert b.stats()["unacked"] == 1


def test_wait_until_holds_an_eval_back_until_its_time() -> None:
    clock = [1_000_000.0]
    b = EvalBroker(clock=lambda: clock[0])
    b.set_enabled(True)
    due = "1970-01-12T13:46:50Z"  # unix 1_000_010
    b.enqueue(Evaluation(id="later", job_id="a", wait_until=due))
    b.enqueue(_ev("now", "b"))
    first = b.dequeue(0.05)
    assert first is not None and first[0].id == "now"
    assert b.dequeue(0.05) is None
    assert b.stats()["delayed"] == 1
    clock[0] = 1_000_010.0
    item = b.dequeue(0.5)
    assert item is not None and item[0].id == "later"


def test_past_wait_until_is_ready_at_once() -> None:
    b = EvalBroker(clock=lambda: 2_000_000_000.0)
    b.set_enabled(True)
    b.enqueue(Evaluation(id="late", job_id="a", wait_until="2020-01-01T00:00:00Z"))
    item = b.dequeue(0.05)
    assert item is not None and item[0].id == "late"
