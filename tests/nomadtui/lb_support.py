"""Test doubles for `nomadtui lb`, over real HTTP on 127.0.0.1:

FakeCatalog   /v1/services and /v1/service/:name with blocking queries
Backend       an HTTP/1.1 keep-alive server that echoes what it received,
              streams slowly on /stream and counts its connections
RunningLB     a LoadBalancer on its own event loop thread, on free ports
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nomadtui.lb import ApiTarget, LoadBalancer, listen, sock_addr


def registration(
    service: str,
    alloc: str,
    port: int,
    tags: Iterable[str] = ("urlprefix-/",),
    health: str = "",
    address: str = "127.0.0.1",
) -> dict[str, Any]:
    return {
        "ID": f"_nomad-task-{alloc}-web-{service}-http",
        "ServiceName": service,
        "Namespace": "default",
        "NodeID": "node-1",
        "Datacenter": "dc1",
        "JobID": "web",
        "AllocID": alloc,
        "Tags": list(tags),
        "Address": address,
        "Port": port,
        "Health": health,
        "Checks": [],
        "CreateIndex": 1,
        "ModifyIndex": 1,
    }


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parse_wait(text: str) -> float:
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text or 300)


class FakeCatalog:
    def __init__(self) -> None:
        self.index = 10
        self.services: dict[str, list[dict[str, Any]]] = {}
        self.cond = threading.Condition()
        self.requests = 0
        self.closing = False
        catalog = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # buffered: headers and body leave in one segment (Nagle + delayed
            # ACK would otherwise hold the body ~40 ms)
            wbufsize = -1

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                catalog.requests += 1
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                min_index = int(query.get("index", "0"))
                deadline = time.monotonic() + _parse_wait(query.get("wait", "300s"))
                with catalog.cond:
                    while (
                        catalog.index <= min_index
                        and not catalog.closing
                        and time.monotonic() < deadline
                    ):
                        catalog.cond.wait(deadline - time.monotonic())
                    if catalog.closing:  # an outage: drop the connection, no answer
                        self.close_connection = True
                        return
                    body, status = catalog._answer(url.path)
                    index = catalog.index
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Nomad-Index", str(index))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def _answer(self, path: str) -> tuple[Any, int]:
        if path == "/v1/services":
            listing = [
                {"ServiceName": name, "Tags": sorted({t for r in regs for t in r["Tags"]})}
                for name, regs in sorted(self.services.items())
                if regs
            ]
            return [{"Namespace": "default", "Services": listing}] if listing else [], 200
        if path.startswith("/v1/service/"):
            return self.services.get(path.removeprefix("/v1/service/"), []), 200
        return f"no path {path}", 404

    def set_service(self, name: str, regs: list[dict[str, Any]]) -> int:
        """Replace a service's registrations; returns the new index."""
        with self.cond:
            self.index += 1
            self.services[name] = regs
            self.cond.notify_all()
            return self.index

    def start(self) -> FakeCatalog:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


class Backend:
    """Echoes `{name, method, path, headers, body_len, body_sha}` as JSON."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.connections = 0
        self.stop_streams = threading.Event()
        self.stream_ended = threading.Event()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # buffered: headers and body leave in one segment (Nagle + delayed
            # ACK would otherwise hold the body ~40 ms)
            wbufsize = -1

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                backend.connections += 1

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self) -> None:
                body = self._body()
                if self.path.startswith("/stream"):
                    self._stream()
                    return
                if self.path.startswith("/forever"):
                    self._forever()
                    return
                if self.path.startswith("/until-close"):
                    # HTTP/1.0 style: no length, the close ends the body
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"until close " * 1000)
                    self.close_connection = True
                    return
                if self.path.startswith("/bye"):
                    # closes after answering without saying so (an idle timeout)
                    self.close_connection = True
                data = json.dumps(
                    {
                        "name": backend.name,
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body_len": len(body),
                        "body_sha": hashlib.sha256(body).hexdigest(),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Keep-Alive", "timeout=5")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self) -> None:
                # chunked, one chunk per 50 ms: a proxy that buffers shows it
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                for n in range(5):
                    chunk = f"{backend.name} chunk {n} at {time.monotonic():.3f}\n".encode()
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.05)
                self.wfile.write(b"0\r\n\r\n")

            def _forever(self) -> None:
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    while not backend.stop_streams.is_set():
                        self.wfile.write(b"5\r\ntick\n\r\n")
                        self.wfile.flush()
                        time.sleep(0.02)
                except OSError:
                    backend.stream_ended.set()  # the proxy closed the connection

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "1234")
                self.send_header("X-Head", "yes")
                self.end_headers()

            do_GET = do_POST = do_PUT = _reply

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.stop_streams.set()
        self.server.shutdown()
        self.server.server_close()


class RunningLB:
    """A LoadBalancer on free loopback ports, run on a thread of its own."""

    def __init__(self, catalog_address: str, strategy: str = "rr") -> None:
        self.lines: list[str] = []
        self.lb = LoadBalancer(ApiTarget(catalog_address), strategy=strategy, out=self.lines.append)
        self._proxy_sock = listen("127.0.0.1:0")
        self._ui_sock = listen("127.0.0.1:0")
        self.proxy_url = f"http://{sock_addr(self._proxy_sock)}"
        self.ui_url = f"http://{sock_addr(self._ui_sock)}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self.lb.run(self._proxy_sock, self._ui_sock, self._stop))

    def start(self) -> RunningLB:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()
        self._proxy_sock.close()
        self._ui_sock.close()
