"""Service check semantics against real local sockets, HTTP servers and
processes: status mapping of tcp/http/script probes, timeouts, the
success_before_passing / failures_before_critical machine, and the shared
scheduler."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controlplane.client.checks import (
    CRITICAL,
    MAX_OUTPUT,
    PASSING,
    PENDING,
    WARNING,
    CheckScheduler,
    CheckState,
    ScheduledCheck,
    probe_http,
    probe_script,
    probe_tcp,
)
from tests.waiting import wait_for


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def _answer(self) -> None:
        type(self).seen.append((self.command, self.path, self.headers.get("X-Probe", "")))
        if self.path == "/slow":
            time.sleep(1.0)
        code = {"/ok": 200, "/created": 201, "/busy": 429, "/err": 500, "/missing": 404}.get(
            self.path, 200
        )
        body = b"x" * (MAX_OUTPUT * 2) if self.path == "/big" else f"answer {code}".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer
    do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def http_port() -> Iterator[int]:
    _Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tcp_passing_on_listener_critical_on_closed_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert probe_tcp("127.0.0.1", port, 1.0)[0] == PASSING
    status, output = probe_tcp("127.0.0.1", _free_port(), 1.0)
    assert status == CRITICAL
    assert "dial tcp" in output


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ok", PASSING),
        ("/created", PASSING),
        ("/busy", WARNING),
        ("/err", CRITICAL),
        ("/missing", CRITICAL),
    ],
)
def test_http_status_mapping(http_port: int, path: str, expected: str) -> None:
    status, output = probe_http("127.0.0.1", http_port, path, 2.0)
    assert status == expected
    assert "answer" in output


def test_http_sends_method_and_headers(http_port: int) -> None:
    status, _ = probe_http(
        "127.0.0.1", http_port, "ok", 2.0, method="POST", headers={"X-Probe": ["a", "b"]}
    )
    assert status == PASSING
    assert _Handler.seen[-1] == ("POST", "/ok", "a, b")


def test_http_timeout_and_refused_are_critical(http_port: int) -> None:
    began = time.monotonic()
    status, output = probe_http("127.0.0.1", http_port, "/slow", 0.2)
    assert status == CRITICAL
    assert time.monotonic() - began < 0.9
    assert "timed out" in output
    assert probe_http("127.0.0.1", _free_port(), "/", 1.0)[0] == CRITICAL


def test_http_output_is_truncated(http_port: int) -> None:
    status, output = probe_http("127.0.0.1", http_port, "/big", 2.0)
    assert status == PASSING
    assert len(output.encode()) <= MAX_OUTPUT


def _run(argv: list[str], timeout: float) -> tuple[bytes, int]:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise TimeoutError("timed out") from e
    return done.stdout, done.returncode


@pytest.mark.parametrize(("code", "expected"), [(0, PASSING), (1, WARNING), (2, CRITICAL)])
def test_script_exit_codes(code: int, expected: str) -> None:
    status, output = probe_script(_run, ["sh", "-c", f"echo out{code}; exit {code}"], 2.0)
    assert status == expected
    assert output.strip() == f"out{code}"


def test_script_timeout_is_critical() -> None:
    status, output = probe_script(_run, ["sleep", "5"], 0.2)
    assert status == CRITICAL
    assert "Timeout" in output


def test_initial_status_and_success_before_passing() -> None:
    st = CheckState(success_before_passing=2)
    assert st.status == PENDING
    assert st.record(PASSING, "") is False
    assert st.status == PENDING
    assert st.record(PASSING, "") is True
    assert st.status == PASSING
    # a failure in between starts the count again
    st = CheckState(initial_status=WARNING, success_before_passing=2)
    st.record(PASSING, "")
    st.record(CRITICAL, "")
    st.record(PASSING, "")
    assert st.status == CRITICAL
    st.record(PASSING, "")
    assert st.status == PASSING


def test_failures_before_critical() -> None:
    st = CheckState(initial_status=PASSING, failures_before_critical=3)
    for _ in range(2):
        assert st.record(CRITICAL, "boom") is False
        assert st.status == PASSING
    st.record(PASSING, "")  # resets the count
    st.record(CRITICAL, "")
    st.record(CRITICAL, "")
    assert st.status == PASSING
    assert st.record(CRITICAL, "boom") is True
    assert st.status == CRITICAL
    assert st.output == "boom"


def test_scheduler_runs_checks_repeatedly_and_stops_removed_ones() -> None:
    sched = CheckScheduler(workers=2)
    runs: dict[str, int] = {"a": 0, "b": 0}
    lock = threading.Lock()

    def probe(key: str) -> tuple[str, str]:
        with lock:
            runs[key] += 1
        return PASSING, key

    results: list[tuple[str, str]] = []
    try:
        for key in runs:
            sched.add(
                ScheduledCheck(
                    key,
                    lambda k=key: probe(k),
                    0.02,
                    1.0,
                    lambda raw, out: results.append((raw, out)),
                )
            )
        wait_for(lambda: runs["a"] >= 3 and runs["b"] >= 3, 5.0, "checks to repeat")
        sched.remove("a")
        with lock:
            after = runs["a"]
        wait_for(lambda: runs["b"] >= after + 5, 5.0, "b to keep running")
        assert runs["a"] <= after + 1  # at most the probe already out
        assert (PASSING, "b") in results
    finally:
        sched.stop()


def test_slow_probe_does_not_delay_other_checks() -> None:
    sched = CheckScheduler(workers=4)
    fast = 0
    release = threading.Event()

    def slow() -> tuple[str, str]:
        release.wait(5.0)
        return PASSING, ""

    def quick() -> tuple[str, str]:
        nonlocal fast
        fast += 1
        return PASSING, ""

    try:
        sched.add(ScheduledCheck("slow", slow, 0.01, 5.0, lambda r, o: None))
        sched.add(ScheduledCheck("fast", quick, 0.01, 1.0, lambda r, o: None))
        wait_for(lambda: fast >= 10, 5.0, "the fast check to run while the slow one hangs")
    finally:
        release.set()
        sched.stop()
