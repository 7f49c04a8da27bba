"""`nomadtui lb`'s proxy against real local HTTP backends and a fake catalog
over real HTTP: rotation, headers, streaming, keep-alive, 502/404 bodies,
live updates through blocking queries, and the status UI."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.nomadtui.lb_support import Backend, FakeCatalog, RunningLB, free_port, registration
from tests.waiting import wait_for


@pytest.fixture
def catalog() -> Iterator[FakeCatalog]:
    cat = FakeCatalog().start()
    yield cat
    cat.stop()


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    made = [Backend(f"b{n}") for n in range(3)]
    yield made
    for b in made:
        b.stop()


@pytest.fixture
def lb(catalog: FakeCatalog) -> Iterator[RunningLB]:
    running = RunningLB(catalog.address).start()
    yield running
    running.stop()


def _web(backends: list[Backend], **health: str) -> list[dict]:
    return [
        registration("bootcamp-demo", f"alloc-{b.name}", b.port, health=health.get(b.name, ""))
        for b in backends
    ]


def _wait_index(lb: RunningLB, index: int) -> None:
    wait_for(lambda: lb.lb.table.index >= index, timeout=5, what=f"table at index {index}")


def test_round_robin_over_all_instances(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends)))
    with httpx.Client(base_url=lb.proxy_url) as http:
        names = [http.get("/").json()["name"] for _ in range(6)]
    assert names == ["b0", "b1", "b2", "b0", "b1", "b2"]


def test_forwarded_headers_hop_by_hop_and_query(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends[:1])))
    resp = httpx.get(
        f"{lb.proxy_url}/a/b?x=1&y=%20",
        headers={
            "Host": "demo.example",
            "X-Forwarded-For": "10.0.0.9",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "drop me",
            "X-Kept": "yes",
        },
    )
    echo = resp.json()
    assert echo["path"] == "/a/b?x=1&y=%20"
    headers = echo["headers"]
    assert headers["host"] == "demo.example"
    assert headers["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "demo.example"
    assert headers["x-kept"] == "yes"
    assert "x-secret-hop" not in headers
    # the backend's hop-by-hop Keep-Alive header is not passed back
    assert "keep-alive" not in resp.headers


def test_strip_prefix(catalog: FakeCatalog, backends: list[Backend], lb: RunningLB) -> None:
    regs = [registration("app", "a1", backends[0].port, ["urlprefix-/app strip=/app"])]
    _wait_index(lb, catalog.set_service("app", regs))
    assert httpx.get(f"{lb.proxy_url}/app/x?q=1").json()["path"] == "/x?q=1"
    assert httpx.get(f"{lb.proxy_url}/app").json()["path"] == "/"


def test_streaming_request_and_response_bodies(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends[:1])))
    payload = [bytes([n]) * 65536 for n in range(16)]

    def chunks() -> Iterator[bytes]:
        yield from payload

    with httpx.Client(base_url=lb.proxy_url) as http:
        echo = http.post("/upload", content=chunks()).json()  # chunked upload
        assert echo["method"] == "POST"
        assert echo["body_len"] == 16 * 65536
        assert echo["body_sha"] == hashlib.sha256(b"".join(payload)).hexdigest()
        sized = http.put("/upload", content=b"abc").json()
        assert (sized["body_len"], sized["headers"]["content-length"]) == (3, "3")

        # the first chunk arrives well before the backend's last one is written
        with http.stream("GET", "/stream") as resp:
            started = time.monotonic()
            lines = resp.iter_lines()
            first = next(lines)
            first_after = time.monotonic() - started
            rest = list(lines)
        assert first.startswith("b0 chunk 0")
        assert len(rest) == 4
        assert first_after < 0.15, f"first chunk after {first_after:.3f}s: buffered"


def test_keep_alive_reuses_backend_connections(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends[:1])))
    with httpx.Client(base_url=lb.proxy_url) as http:
        for _ in range(20):
            assert http.get("/").status_code == 200
    assert backends[0].connections == 1


def test_head_until_close_and_backend_closing_after_a_response(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends[:1])))
    with httpx.Client(base_url=lb.proxy_url) as http:
        head = http.head("/")
        assert (head.status_code, head.headers["x-head"], head.content) == (200, "yes", b"")
        assert head.headers["content-length"] == "1234"
        assert http.get("/until-close").content == b"until close " * 1000
        assert http.get("/bye").status_code == 200
        # the pooled connections above are all closed: each request dials anew
        assert http.get("/").json()["name"] == "b0"
    assert backends[0].connections == 4


def test_client_going_away_closes_an_endless_stream(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends[:1])))
    with httpx.Client(base_url=lb.proxy_url) as http, http.stream("GET", "/forever") as resp:
        assert next(resp.iter_bytes()).startswith(b"tick")
    wait_for(backends[0].stream_ended.is_set, timeout=5, what="backend stream closed by the LB")


def test_502_when_no_healthy_instance_and_404_without_route(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    regs = _web(backends[:2], b0="critical", b1="warning")
    _wait_index(lb, catalog.set_service("bootcamp-demo", regs))
    resp = httpx.get(f"{lb.proxy_url}/page")
    assert resp.status_code == 502
    assert resp.text == "no healthy instance for / (service bootcamp-demo)\n"

    _wait_index(lb, catalog.set_service("bootcamp-demo", []))
    resp = httpx.get(f"{lb.proxy_url}/page", headers={"Host": "h.example"})
    assert resp.status_code == 404
    assert resp.text == "no route for h.example/page\n"


def test_refused_instance_is_skipped_then_502(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    # in the catalog but nothing listens (stopped, deregistration not seen yet)
    dead = registration("bootcamp-demo", "alloc-dead", free_port())
    _wait_index(lb, catalog.set_service("bootcamp-demo", [dead, *_web(backends[:1])]))
    with httpx.Client(base_url=lb.proxy_url) as http:
        assert [http.get("/").json()["name"] for _ in range(4)] == ["b0"] * 4
        _wait_index(lb, catalog.set_service("bootcamp-demo", [dead]))
        resp = http.get("/")
        assert resp.status_code == 502
        assert resp.text == "no reachable instance for / (service bootcamp-demo)\n"
        # a body cannot be replayed to another instance: the one error is reported
        resp = http.post("/", content=b"x")
    assert resp.status_code == 502
    assert resp.text.startswith(f"backend 127.0.0.1:{dead['Port']} for / (service bootcamp-demo)")


def test_live_updates_follow_the_catalog_within_milliseconds(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends)))
    watcher = lb.lb.watcher
    assert watcher is not None
    lags = []
    for health in ("critical", "passing", "critical", "passing", "critical"):
        changed = time.monotonic()
        index = catalog.set_service("bootcamp-demo", _web(backends, b1=health))
        _wait_index(lb, index)
        lags.append(watcher.changed_at - changed)
    assert max(lags) < 0.1, f"catalog change applied after {max(lags) * 1000:.1f} ms"
    print(f"catalog change -> routing table: max {max(lags) * 1000:.2f} ms")
    with httpx.Client(base_url=lb.proxy_url) as http:
        assert {http.get("/").json()["name"] for _ in range(6)} == {"b0", "b2"}
    # a service that loses its urlprefix- tag loses its route
    untagged = [dict(r, Tags=["web"]) for r in _web(backends)]
    _wait_index(lb, catalog.set_service("bootcamp-demo", untagged))
    wait_for(lambda: not lb.lb.table.routes, timeout=5, what="route removed")
    assert any("route / -> removed" in line for line in lb.lines)


def test_catalog_outage_keeps_the_last_routes(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    _wait_index(lb, catalog.set_service("bootcamp-demo", _web(backends[:1])))
    watcher = lb.lb.watcher
    assert watcher is not None
    catalog.stop()
    wait_for(lambda: watcher.error, timeout=5, what="the watcher noticing the outage")
    assert httpx.get(f"{lb.proxy_url}/").json()["name"] == "b0"
    assert "Catalog error" in httpx.get(f"{lb.ui_url}/").text


def test_status_ui_lists_routes_instances_and_hits(
    catalog: FakeCatalog, backends: list[Backend], lb: RunningLB
) -> None:
    regs = _web(backends[:2], b1="critical")
    _wait_index(lb, catalog.set_service("bootcamp-demo", regs))
    for _ in range(3):
        httpx.get(f"{lb.proxy_url}/")
    routes = httpx.get(f"{lb.ui_url}/api/routes").json()
    assert [r["Route"] for r in routes] == ["/"]
    instances = routes[0]["Instances"]
    assert [(i["AllocID"], i["Health"], i["Healthy"], i["Hits"]) for i in instances] == [
        ("alloc-b0", "", True, 3),
        ("alloc-b1", "critical", False, 0),
    ]
    page = httpx.get(f"{lb.ui_url}/")
    assert page.headers["content-type"].startswith("text/html")
    assert "1/2 healthy" in page.text and "critical" in page.text
    assert httpx.get(f"{lb.ui_url}/nope").status_code == 404
    assert json.loads(httpx.get(f"{lb.ui_url}/api/routes").text)[0]["Services"] == ["bootcamp-demo"]
