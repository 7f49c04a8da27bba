"""Routing table of `nomadtui lb`: tag parsing, lookup order, strip, health
filtering and the two strategies."""

from __future__ import annotations

import pytest

from nomadtui.lb.routes import Picker, RouteSpec, RoutingTable, parse_tag
from tests.nomadtui.lb_support import registration


@pytest.mark.parametrize(
    ("tag", "spec"),
    [
        ("urlprefix-/", RouteSpec("", "/")),
        ("urlprefix-/api/v1", RouteSpec("", "/api/v1")),
        ("urlprefix-Example.COM/app", RouteSpec("example.com", "/app")),
        ("urlprefix-/app strip=/app", RouteSpec("", "/app", "/app")),
        ("urlprefix-/app proto=http strip=/app", RouteSpec("", "/app", "/app")),
        ("urlprefix-example.com", None),
        ("urlprefix-", None),
        ("global", None),
        ("prefix-/x", None),
    ],
)
def test_parse_tag(tag: str, spec: RouteSpec | None) -> None:
    assert parse_tag(tag) == spec


def _table(*regs: dict) -> RoutingTable:
    return RoutingTable.build(regs, index=7)


def test_longest_prefix_wins_and_host_routes_first() -> None:
    table = _table(
        registration("root", "a1", 1001, ["urlprefix-/"]),
        registration("api", "a2", 1002, ["urlprefix-/api"]),
        registration("apiv2", "a3", 1003, ["urlprefix-/api/v2"]),
        registration("hosted", "a4", 1004, ["urlprefix-shop.example/"]),
    )

    def service(host: str, path: str) -> str:
        route = table.lookup(host, path)
        assert route is not None
        return route.services[0]

    assert service("127.0.0.1:9999", "/") == "root"
    assert service("127.0.0.1:9999", "/api") == "api"
    assert service("127.0.0.1:9999", "/api/v1/x") == "api"
    assert service("127.0.0.1:9999", "/api/v2/x") == "apiv2"
    # a host route beats a longer host-less prefix; the port is ignored
    assert service("shop.example:9999", "/api/v2/x") == "hosted"
    assert service("SHOP.example", "/") == "hosted"
    assert table.index == 7
    assert [r.key for r in table.routes] == ["shop.example/", "/api/v2", "/api", "/"]


def test_no_route_without_match() -> None:
    table = _table(registration("api", "a1", 1001, ["urlprefix-/api"]))
    assert table.lookup("h", "/other") is None
    assert RoutingTable().lookup("h", "/") is None


def test_strip_rewrites_the_upstream_path() -> None:
    table = _table(registration("app", "a1", 1001, ["urlprefix-/app strip=/app"]))
    route = table.lookup("h", "/app/page")
    assert route is not None and route.strip == "/app"
    assert route.upstream_path("/app/page?x=1") == "/page?x=1"
    assert route.upstream_path("/app") == "/"


def test_instances_of_several_services_share_a_route() -> None:
    table = _table(
        registration("blue", "a1", 1001),
        registration("green", "a2", 1002),
        registration("notags", "a3", 1003, ["web"]),
        registration("noport", "a4", 0),
    )
    (route,) = table.routes
    assert route.services == ("blue", "green")
    assert [i.port for i in route.instances] == [1001, 1002]


def test_only_passing_or_unchecked_instances_are_healthy() -> None:
    table = _table(
        registration("web", "a1", 1001, health=""),
        registration("web", "a2", 1002, health="passing"),
        registration("web", "a3", 1003, health="warning"),
        registration("web", "a4", 1004, health="critical"),
        registration("web", "a5", 1005, health="pending"),
    )
    (route,) = table.routes
    assert len(route.instances) == 5
    assert [i.port for i in route.healthy] == [1001, 1002]
    picker = Picker("rr")
    assert {picker.pick(route).port for _ in range(10)} == {1001, 1002}  # type: ignore[union-attr]


def test_round_robin_cycles_and_survives_rebuilds() -> None:
    regs = [registration("web", f"a{n}", 1000 + n) for n in range(3)]
    picker = Picker("rr")
    table = _table(*regs)
    first = [picker.pick(table.routes[0]).port for _ in range(6)]  # type: ignore[union-attr]
    assert first == [1000, 1001, 1002, 1000, 1001, 1002]
    # a rebuild (new index, same instances) continues the rotation
    table = RoutingTable.build(reversed(regs), index=8)
    assert picker.pick(table.routes[0]).port == 1000  # type: ignore[union-attr]


def test_random_strategy_uses_its_rng_and_only_healthy() -> None:
    table = _table(
        registration("web", "a1", 1001),
        registration("web", "a2", 1002, health="critical"),
        registration("web", "a3", 1003),
    )
    draws = iter([1, 0, 1])
    picker = Picker("random", rng=lambda n: next(draws) % n)
    route = table.routes[0]
    assert [picker.pick(route).port for _ in range(3)] == [1003, 1001, 1003]  # type: ignore[union-attr]


def test_pick_none_when_no_healthy_and_avoid_skips() -> None:
    table = _table(registration("web", "a1", 1001, health="critical"))
    assert Picker().pick(table.routes[0]) is None
    table = _table(registration("web", "a1", 1001), registration("web", "a2", 1002))
    route = table.routes[0]
    assert Picker().pick(route, avoid=[route.instances[0].id]).port == 1002  # type: ignore[union-attr]


def test_unknown_strategy_rejected() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        Picker("least-conn")
