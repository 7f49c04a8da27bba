"""Runs the load balancer: the catalog watcher, the proxy and the status UI on
one event loop, over listening sockets the caller opened.

Owns wiring and lifecycle (startup, route-change log lines, shutdown); the
routing, proxying and rendering live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import uvicorn

from .catalog import DEFAULT_WAIT_S, CatalogWatcher, Registrations
from .proxy import ProxyApp
from .routes import Picker, RoutingTable
from .status_ui import StatusApp
from .upstream import UpstreamPool


def parse_listen(addr: str) -> tuple[str, int]:
    """`host:port` or `:port` (all interfaces, as Go spells it) -> (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid listen address {addr!r} (want host:port)")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def listen(addr: str) -> socket.socket:
    """A bound, listening TCP socket (port 0 picks a free one)."""
    host, port = parse_listen(addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets
    # whose proto is IPPROTO_TCP, and without it Nagle + delayed ACK add
    # 40 ms to every response written in two parts (headers, then body)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def sock_addr(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class ApiTarget:
    address: str
    token: str | None = None
    namespace: str | None = None
    # httpx `verify=` for an https:// catalog (ClientConfig.verify: CA, client cert)
    verify: ssl.SSLContext | bool = True


def _uvicorn(app: object) -> uvicorn.Server:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        # the backend's own Server and Date headers pass through untouched
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=5,
        # the peer address is the client; X-Forwarded-For is only passed on
        proxy_headers=False,
    )
    config.load()
    server = uvicorn.Server(config)
    # what Server.serve() would set up; we drive startup/shutdown ourselves so
    # that two servers share one loop and our signal handlers
    server.lifespan = config.lifespan_class(config)
    return server


class LoadBalancer:
    def __init__(
        self,
        api: ApiTarget,
        *,
        strategy: str = "rr",
        out: Callable[[str], None] = print,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> None:
        self.api = api
        self.strategy = strategy
        self._out = out
        self._wait_s = wait_s
        self.table = RoutingTable()
        self.picker = Picker(strategy)
        self._summary: dict[str, str] = {}
        self.watcher: CatalogWatcher | None = None
        self.proxy: ProxyApp | None = None

    def _on_change(self, registrations: Registrations, index: int) -> None:
        self.table = RoutingTable.build(registrations, index)
        summary = {
            r.key: f"{', '.join(r.services)} ({len(r.healthy)}/{len(r.instances)} healthy)"
            + (f" strip={r.strip}" if r.strip else "")
            for r in self.table.routes
        }
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        for key in sorted(summary.keys() | self._summary.keys()):
            new, old = summary.get(key), self._summary.get(key)
            if new != old:
                self._out(f"{stamp} route {key} -> {new or 'removed'} (index {index})")
        self._summary = summary

    def info(self) -> dict[str, str]:
        watcher = self.watcher
        return {
            "Catalog": self.api.address,
            "Strategy": self.strategy,
            "Catalog index": str(watcher.index if watcher else 0),
            "Catalog error": (watcher.error if watcher else "") or "none",
        }

    async def run(
        self, proxy_sock: socket.socket, ui_sock: socket.socket, stop: asyncio.Event
    ) -> None:
        headers = {"X-Nomad-Token": self.api.token} if self.api.token else {}
        pool = UpstreamPool()
        async with httpx.AsyncClient(
            base_url=self.api.address,
            headers=headers,
            # blocking queries are held up to wait + wait/16 by the servers
            timeout=httpx.Timeout(self._wait_s + self._wait_s / 16 + 10, connect=5.0),
            trust_env=False,
            verify=self.api.verify,
        ) as catalog_http:
            self.watcher = CatalogWatcher(
                catalog_http, self._on_change, namespace=self.api.namespace, wait_s=self._wait_s
            )
            self.proxy = ProxyApp(lambda: self.table, self.picker, pool)
            ui = StatusApp(lambda: self.table, self.proxy.hits, self.info)
            servers = [_uvicorn(self.proxy), _uvicorn(ui)]
            watch = asyncio.create_task(self.watcher.run(), name="lb-catalog")
            try:
                await servers[0].startup(sockets=[proxy_sock])
                await servers[1].startup(sockets=[ui_sock])
                await stop.wait()
            finally:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
                for server in servers:
                    if server.started:
                        server.should_exit = True
                        await server.shutdown(sockets=None)
                await pool.aclose()
