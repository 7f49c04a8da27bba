"""Throughput and latency of `nomadtui lb` against going straight to a backend.

Same run, same client: three backend processes (uvicorn + httptools,
a 13-byte page) registered in a fake catalog served over real HTTP, the LB
as a separate `nomadtui lb` process routing to them round-robin, and a load
generator of several processes, each holding several keep-alive connections
(one request in flight per connection). Each target is measured for
`-seconds` after a warm-up, alternating direct/LB `-rounds` times; the best
round of each is reported.

    .venv/bin/python bench/lb.py [-seconds 5] [-procs 4] [-conns 16] [-rounds 2]

Prints the figures and a final
`RESULT lb_rps=... direct_rps=... ratio=... lb_p99_ms=... direct_p99_ms=...` line.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.agents import free_port  # noqa: E402
from tests.nomadtui.lb_support import FakeCatalog, registration  # noqa: E402

BACKEND_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"hello, world\\n"})
"""


def start_backend(port: int) -> subprocess.Popen[bytes]:
    code = (
        BACKEND_APP
        + "import uvicorn\n"
        + f"uvicorn.run(app, host='127.0.0.1', port={port}, http='httptools', loop='uvloop',"
        + " access_log=False, log_level='warning', lifespan='off')\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def wait_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


async def _connection(
    port: int, until: float, record_from: float, lat: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    try:
        while True:
            start = time.perf_counter()
            if start >= until:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length: *(\d+)", head)
            if match is None or not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
                return
            await reader.readexactly(int(match.group(1)))
            if start >= record_from:
                lat.append(time.perf_counter() - start)
    finally:
        writer.close()


def _load_proc(port: int, conns: int, warmup: float, seconds: float, out: mp.Queue) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    lat: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        now = time.perf_counter()
        until, record_from = now + warmup + seconds, now + warmup
        await asyncio.gather(
            *(_connection(port, until, record_from, lat, errors) for _ in range(conns))
        )

    asyncio.run(main())
    out.put((lat, len(errors)))


def measure(
    port: int, procs: int, conns: int, warmup: float, seconds: float
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, errors) of `procs` x `conns` connections."""
    queue: mp.Queue = mp.Queue()
    workers = [
        mp.Process(target=_load_proc, args=(port, conns, warmup, seconds, queue))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    lat: list[float] = []
    errors = 0
    for _ in workers:
        part, errs = queue.get()
        lat += part
        errors += errs
    for w in workers:
        w.join()
    lat.sort()
    if not lat:
        return 0.0, 0.0, 0.0, errors
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return len(lat) / seconds, p50, p99, errors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-seconds", type=float, default=5.0)
    parser.add_argument("-warmup", type=float, default=1.0)
    parser.add_argument("-procs", type=int, default=4)
    parser.add_argument("-conns", type=int, default=16)
    parser.add_argument("-rounds", type=int, default=2)
    args = parser.parse_args()

    ports = [free_port() for _ in range(3)]
    backends = [start_backend(p) for p in ports]
    catalog = FakeCatalog().start()
    lb = None
    try:
        for p in ports:
            wait_port(p)
        catalog.set_service(
            "bench", [registration("bench", f"alloc-{n}", p) for n, p in enumerate(ports)]
        )
        lb = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nomadtui",
                "lb",
                "-address",
                catalog.address,
                "-proxy-addr",
                "127.0.0.1:0",
                "-ui-addr",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert lb.stdout is not None
        lines = [lb.stdout.readline() for _ in range(4)]
        found = re.search(r"Proxy:\s+http://127\.0\.0\.1:(\d+)", "".join(lines))
        if not found:
            raise SystemExit(f"lb did not start: {lines}")
        lb_port = int(found.group(1))
        route_line = lb.stdout.readline()  # the route appears once the catalog is read
        print(f"lb up: {route_line.strip()}")
        print(
            f"cpus={os.cpu_count()} load={args.procs} procs x {args.conns} keep-alive conns, "
            f"{args.seconds:.0f}s per round, {args.rounds} rounds"
        )
        best: dict[str, tuple[float, float, float, int]] = {}
        for rnd in range(args.rounds):
            for name, port in (("direct", ports[0]), ("lb", lb_port)):
                rps, p50, p99, errors = measure(
                    port, args.procs, args.conns, args.warmup, args.seconds
                )
                print(
                    f"round {rnd + 1} {name:6s} {rps:9.0f} req/s  p50 {p50:6.2f} ms  "
                    f"p99 {p99:6.2f} ms  errors {errors}"
                )
                if name not in best or rps > best[name][0]:
                    best[name] = (rps, p50, p99, errors)
        d, b = best["direct"], best["lb"]
        print(
            f"RESULT lb_rps={b[0]:.0f} direct_rps={d[0]:.0f} ratio={b[0] / d[0]:.3f} "
            f"lb_p99_ms={b[2]:.2f} direct_p99_ms={d[2]:.2f}"
        )
    finally:
        if lb is not None:
            lb.send_signal(signal.SIGTERM)
            lb.wait(10)
        for proc in backends:
            proc.terminate()
            proc.wait(10)
        catalog.stop()


if __name__ == "__main__":
    main()
