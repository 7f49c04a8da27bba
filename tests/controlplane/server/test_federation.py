"""The WAN table: merge (newer LastSeen wins), failure and drop by age, the
push-pull exchange between two tables, and whom a gossip round talks to.
Clocks are injected; no network except where a test says so."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from controlplane.errors import PermissionDenied, ValidationError
from controlplane.server.federation import (
    ALIVE,
    FAILED,
    Federation,
    FederationConfig,
    WanServer,
    merge,
    prune,
    sign,
    status_of,
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _server(name: str, region: str, port: int, seen: float) -> WanServer:
    return WanServer(
        name=name,
        region=region,
        http_addr=f"127.0.0.1:{port}",
        rpc_addr=f"127.0.0.1:{port + 1}",
        datacenter="dc1",
        last_seen=seen,
    )


def _fed(name: str, region: str, port: int, clock: Clock, **cfg: float) -> Federation:
    config = FederationConfig(
        interval_s=1, failed_after_s=cfg.get("failed", 10), drop_after_s=cfg.get("drop", 60)
    )
    return Federation(_server(name, region, port, 0), config, clock=clock)


def test_merge_keeps_the_newest_news_of_each_server() -> None:
    old = _server("b0", "b", 5000, 100.0)
    newer = replace(old, last_seen=150.0, datacenter="dc2")
    table = merge({}, [old], now=200.0, self_addr="127.0.0.1:1")
    table = merge(table, [newer], now=200.0, self_addr="127.0.0.1:1")
    assert table[old.http_addr].datacenter == "dc2"
    # older news of the same server changes nothing
    table = merge(table, [old], now=200.0, self_addr="127.0.0.1:1")
    assert table[old.http_addr].last_seen == 150.0


def test_merge_caps_a_future_clock_and_ignores_news_of_itself() -> None:
    me = _server("a0", "a", 4000, 0)
    ahead = _server("b0", "b", 5000, 10_000.0)
    table = merge({}, [ahead, replace(me, last_seen=9.0)], now=200.0, self_addr=me.http_addr)
    assert list(table) == [ahead.http_addr]
    assert table[ahead.http_addr].last_seen == 200.0


def test_status_and_prune_by_age() -> None:
    s = _server("b0", "b", 5000, 100.0)
    assert status_of(s, now=105.0, failed_after_s=10) == ALIVE
    assert status_of(s, now=111.0, failed_after_s=10) == FAILED
    assert prune({s.http_addr: s}, now=160.0, drop_after_s=60) == {s.http_addr: s}
    assert prune({s.http_addr: s}, now=161.0, drop_after_s=60) == {}


def test_wire_round_trip_and_junk_is_skipped() -> None:
    s = _server("b0", "b", 5000, 123.5)
    assert WanServer.from_wire(s.to_wire("alive")) == s
    for junk in (
        None,
        [],
        {"Name": "x"},
        {**s.to_wire(), "LastSeen": "soon"},
        {**s.to_wire(), "Addr": ""},
    ):
        assert WanServer.from_wire(junk) is None


def test_exchange_teaches_both_sides_and_a_silent_region_fails_then_drops() -> None:
    clock = Clock()
    a0 = _fed("a0", "a", 4000, clock, failed=5, drop=30)
    b0 = _fed("b0", "b", 5000, clock, failed=5, drop=30)
    # b0 answers a0's push with its own view (what PUT /v1/internal/federation does)
    answer = b0.receive(a0.view())
    a0.receive(answer)
    assert a0.regions() == ["a", "b"] and b0.regions() == ["a", "b"]
    assert a0.targets("b") == ["127.0.0.1:5000"]
    assert a0.targets("a") == []  # never itself

    clock.now += 6
    assert dict((s.name, st) for s, st in a0.servers()) == {"a0": ALIVE, "b0": FAILED}
    assert a0.targets("b") == [] and a0.known("b")
    assert 5.9 < a0.last_heard("b") < 6.1
    clock.now += 25
    assert a0.regions() == ["a"] and not a0.known("b")
    # stale news of b from someone else does not bring it back
    a0.receive(answer)
    assert a0.regions() == ["a"]


def test_news_travels_through_a_third_server() -> None:
    clock = Clock()
    a0, a1 = _fed("a0", "a", 4000, clock), _fed("a1", "a", 4100, clock)
    b0 = _fed("b0", "b", 5000, clock)
    a0.receive(b0.receive(a0.view()))
    clock.now += 3
    # a1 never talked to b0: it learns of b from a0, with a0's time
    a1.receive(a0.view())
    (b_entry,) = [s for s, _ in a1.servers() if s.region == "b"]
    assert b_entry.last_seen == clock.now - 3


def test_a_round_talks_to_each_other_region_its_own_and_unreached_seeds() -> None:
    clock = Clock()
    a0 = Federation(
        _server("a0", "a", 4000, 0),
        FederationConfig(seeds=["127.0.0.1:7000", "127.0.0.1:5000"]),
        local_peers=lambda: ["127.0.0.1:4100", "127.0.0.1:4000", ""],
        clock=clock,
    )
    a0.receive(
        {
            "Regions": {
                "b": [_server("b0", "b", 5000, clock.now).to_wire()],
                "c": [
                    _server("c0", "c", 6000, clock.now - 100).to_wire(),
                    _server("c1", "c", 6100, clock.now).to_wire(),
                ],
            }
        }
    )
    for _ in range(20):
        picks = a0.round_targets()
        # c1 is the live one of c; b0 is a seed already reached
        assert sorted(picks) == sorted(
            ["127.0.0.1:5000", "127.0.0.1:6100", "127.0.0.1:4100", "127.0.0.1:7000"]
        )


def test_join_of_an_address_where_nothing_answers_is_none() -> None:
    a0 = _fed("a0", "a", 4000, Clock())
    a0.cfg.timeout_s = 0.5
    assert a0.exchange("127.0.0.1:1") is None


def test_with_a_gossip_key_only_signed_pushes_are_taken() -> None:
    clock = Clock()
    a0 = _fed("a0", "a", 4000, clock)
    b0 = _fed("b0", "b", 5000, clock)
    a0.cfg.key = b0.cfg.key = b"shared"
    push = json.dumps(a0.view()).encode()
    for signature in ("", sign(b"other", push), sign(b"shared", push + b" ")):
        with pytest.raises(PermissionDenied):
            b0.receive_signed(push, signature)
    assert b0.regions() == ["b"]
    answer, signature = b0.receive_signed(push, sign(b"shared", push))
    assert b0.regions() == ["a", "b"]
    # the answer is signed too: a0 can tell it came from a holder of the key
    assert signature == sign(b"shared", answer)
    assert json.loads(answer)["Region"] == "b"


def test_without_a_key_a_push_needs_no_signature_but_must_be_json() -> None:
    b0 = _fed("b0", "b", 5000, Clock())
    answer, signature = b0.receive_signed(b'{"Regions": {}}', "")
    assert signature == "" and json.loads(answer)["Name"] == "b0"
    with pytest.raises(ValidationError):
        b0.receive_signed(b"[1]", "")
