"""Service check runners of the client: the probes (`tcp`, `http`, `script`),
the per-check status machine (initial_status, success_before_passing,
failures_before_critical) and one scheduler that runs every check of the
node. Never registers anything and never touches tasks: results go to the
owner's callback (services.py).

One scheduler thread keeps a heap of due times and hands each probe to a
small bounded pool, so a node with a hundred checks uses a handful of
threads and a slow probe (up to its `timeout`) delays no other check.

Status words are Consul's (CheckStatus): `passing`, `warning`, `critical`;
`pending` until the first result when no `initial_status` is set (the
registration counts it as critical).
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PASSING = "passing"
WARNING = "warning"
CRITICAL = "critical"
PENDING = "pending"

MAX_OUTPUT = 4096  # bytes of probe output kept in the catalog

Probe = Callable[[], tuple[str, str]]  # -> (raw status, output)


def truncate(text: str, limit: int = MAX_OUTPUT) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


# ---- probes -----------------------------------------------------------------


def probe_tcp(host: str, port: int, timeout: float) -> tuple[str, str]:
    """Passing when a TCP connection opens within `timeout`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return CRITICAL, f"dial tcp {host}:{port}: {exc}"
    return PASSING, f"TCP connect {host}:{port}: Success"


def http_status(code: int) -> str:
    """Consul's mapping of an HTTP answer: 2xx passing, 429 warning, else critical."""
    if 200 <= code < 300:
        return PASSING
    if code == 429:
        return WARNING
    return CRITICAL


def probe_http(
    url_host: str,
    port: int,
    path: str,
    timeout: float,
    method: str = "GET",
    headers: dict[str, list[str]] | None = None,
    body: str = "",
    protocol: str = "http",
    tls_skip_verify: bool = False,
) -> tuple[str, str]:
    """One HTTP request; the status maps through `http_status`, the body
    (truncated) is the output."""
    path = path or "/"
    if not path.startswith("/"):
        path = "/" + path
    scheme = protocol or "http"
    conn: http.client.HTTPConnection
    if scheme == "https":
        ctx = ssl.create_default_context()
        if tls_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(url_host, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(url_host, port, timeout=timeout)
    hdrs = {k: ", ".join(v) for k, v in (headers or {}).items()}
    hdrs.setdefault("User-Agent", "Nomad Health Check")
    url = f"{scheme}://{url_host}:{port}{path}"
    try:
        conn.request(method or "GET", path, body=body.encode() if body else None, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read(MAX_OUTPUT + 1)
    except (OSError, http.client.HTTPException) as exc:
        return CRITICAL, f"{method or 'GET'} {url}: {exc}"
    finally:
        conn.close()
    text = data.decode("utf-8", "replace")
    return http_status(resp.status), truncate(
        f"HTTP {method or 'GET'} {url}: {resp.status} {resp.reason} Output: {text}"
    )


def script_status(exit_code: int) -> str:
    """Consul's script semantics: 0 passing, 1 warning, anything else critical."""
    if exit_code == 0:
        return PASSING
    if exit_code == 1:
        return WARNING
    return CRITICAL


def probe_script(
    run: Callable[[list[str], float], tuple[bytes, int]], argv: list[str], timeout: float
) -> tuple[str, str]:
    """Run `argv` inside the task (the driver's exec_task) and map its exit code."""
    try:
        output, code = run(argv, timeout)
    except TimeoutError:
        return CRITICAL, f"Timeout: {timeout:g}s exceeded"
    except Exception as exc:
        return CRITICAL, f"script check failed: {exc}"
    return script_status(code), truncate(output.decode("utf-8", "replace"))


# ---- the status machine -----------------------------------------------------


class CheckState:
    """Turns raw probe results into a check's status, Consul-style: a check
    turns passing only after `success_before_passing` consecutive passes and
    critical only after `failures_before_critical` consecutive failures;
    until then it keeps its previous status. Warnings apply at once."""

    def __init__(
        self,
        initial_status: str = "",
        success_before_passing: int = 0,
        failures_before_critical: int = 0,
    ) -> None:
        self.status = initial_status or PENDING
        self.output = ""
        self._need_ok = max(1, success_before_passing)
        self._need_fail = max(1, failures_before_critical)
        self._oks = 0
        self._fails = 0

    def record(self, raw: str, output: str) -> bool:
        """Take one raw result; True when the status changed."""
        before = self.status
        self.output = output
        if raw == PASSING:
            self._oks += 1
            self._fails = 0
            if self._oks >= self._need_ok:
                self.status = PASSING
        elif raw == WARNING:
            self._oks = 0
            self._fails = 0
            self.status = WARNING
        else:
            self._fails += 1
            self._oks = 0
            if self._fails >= self._need_fail:
                self.status = CRITICAL
        return self.status != before


# ---- the scheduler ----------------------------------------------------------


@dataclass
class ScheduledCheck:
    """One check to run every `interval_s`; `on_result(raw, output)` gets each
    result, from a pool thread (results of one check never overlap)."""

    key: str
    probe: Probe
    interval_s: float
    timeout_s: float
    on_result: Callable[[str, str], None]
    # set by the scheduler
    running: bool = field(default=False, repr=False)
    removed: bool = field(default=False, repr=False)


class CheckScheduler:
    """Runs every check of a client: one timer thread plus a bounded probe pool."""

    def __init__(self, workers: int = 8, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, ScheduledCheck]] = []
        self._checks: dict[str, ScheduledCheck] = {}
        self._seq = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check")
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="client-checks", daemon=True)
        self._thread.start()

    def add(self, check: ScheduledCheck, first_in_s: float = 0.0) -> None:
        """Schedule `check` (replacing one with the same key); first run after `first_in_s`."""
        with self._cond:
            old = self._checks.pop(check.key, None)
            if old is not None:
                old.removed = True
            self._checks[check.key] = check
            heapq.heappush(self._heap, (self._clock() + first_in_s, next(self._seq), check))
            self._cond.notify_all()

    def remove(self, key: str) -> None:
        with self._cond:
            check = self._checks.pop(key, None)
            if check is not None:
                check.removed = True

    def keys(self) -> list[str]:
        with self._cond:
            return list(self._checks)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    while self._heap and self._heap[0][2].removed:
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0][0] <= self._clock():
                        break
                    timeout = self._heap[0][0] - self._clock() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, check = heapq.heappop(self._heap)
                if check.running:
                    # the previous probe is still out (slow): try again next interval
                    due = self._clock() + check.interval_s
                    heapq.heappush(self._heap, (due, next(self._seq), check))
                    continue
                check.running = True
            try:
                self._pool.submit(self._run, check)
            except RuntimeError:
                return  # pool shut down

    def _run(self, check: ScheduledCheck) -> None:
        try:
            raw, output = check.probe()
        except Exception as exc:
            raw, output = CRITICAL, f"check failed: {exc}"
        try:
            if not check.removed:
                check.on_result(raw, truncate(output))
        except Exception:
            log.exception("check result handler failed check=%s", check.key)
        finally:
            with self._cond:
                check.running = False
                if not check.removed and not self._stopped:
                    due = self._clock() + check.interval_s
                    heapq.heappush(self._heap, (due, next(self._seq), check))
                    self._cond.notify_all()
