"""`nomadtui lb` as a user runs it: a separate process finding the catalog
through NOMAD_ADDR, printing its addresses and route changes, stopping on
SIGTERM; one-line errors for bad flags and busy ports."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.nomadtui.lb_support import Backend, FakeCatalog, registration
from tests.waiting import wait_for


@pytest.fixture
def catalog() -> Iterator[FakeCatalog]:
    cat = FakeCatalog().start()
    yield cat
    cat.stop()


def _lb(address: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, NOMAD_ADDR=address)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nomadtui",
            "lb",
            "-proxy-addr",
            "127.0.0.1:0",
            "-ui-addr",
            "127.0.0.1:0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_lb_process_routes_from_nomad_addr_and_stops_on_sigterm(catalog: FakeCatalog) -> None:
    backends = [Backend("b0"), Backend("b1")]
    proc = _lb(catalog.address, "-strategy", "rr")
    try:
        assert proc.stdout is not None
        header = [proc.stdout.readline() for _ in range(4)]
        assert header[0] == f"==> nomadtui lb: routes from the catalog at {catalog.address}\n"
        proxy = re.fullmatch(r"    Proxy:    (http://127\.0\.0\.1:\d+)\n", header[1])
        ui = re.fullmatch(r"    UI:       (http://127\.0\.0\.1:\d+)\n", header[2])
        assert proxy and ui, header
        assert header[3] == "    Strategy: rr\n"
        catalog.set_service(
            "bootcamp-demo",
            [registration("bootcamp-demo", f"a{n}", b.port) for n, b in enumerate(backends)],
        )
        line = proc.stdout.readline()
        assert re.search(r" route / -> bootcamp-demo \(2/2 healthy\) \(index \d+\)$", line)

        def answered() -> set[str]:
            with httpx.Client(base_url=proxy.group(1)) as http:
                return {http.get("/").json()["name"] for _ in range(4)}

        assert wait_for(answered, timeout=5, what="both backends") == {"b0", "b1"}
        routes = httpx.get(f"{ui.group(1)}/api/routes").json()
        assert routes[0]["Route"] == "/" and len(routes[0]["Instances"]) == 2
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert out.endswith("==> nomadtui lb: stopped\n")
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for b in backends:
            b.stop()


def test_lb_flag_errors_are_one_line(catalog: FakeCatalog) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "nomadtui", "lb", "-strategy", "least-conn"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (res.returncode, res.stderr) == (
        1,
        "Error: unknown -strategy 'least-conn' (want rr or random)\n",
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "nomadtui",
                "lb",
                "-address",
                catalog.address,
                "-proxy-addr",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert res.returncode == 1
    assert res.stderr.startswith(f"Error: cannot listen on -proxy-addr 127.0.0.1:{port}: ")
    assert res.stderr.count("\n") == 1
