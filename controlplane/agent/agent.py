"""Agent: runs a server, a client, or both (dev), behind one HTTP API.

Start order: Raft + server loops, then HTTP, then the client (which
registers through HTTP, in dev mode with its own agent). Stop order is the
reverse. Dev mode keeps state in memory and client data in a temporary
directory removed on shutdown.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from controlplane.api.app import build_app
from controlplane.api.http_protocol import HttpProtocol
from controlplane.client.agent import ClientAgent
from controlplane.client.config import ClientConfig
from controlplane.client.rpc_http import HTTPServerRPC
from controlplane.drivers.base import Driver
from controlplane.drivers.registry import builtin_drivers
from controlplane.raft.node import RaftConfig
from controlplane.server.federation import FederationConfig
from controlplane.server.server import Server, ServerConfig
from controlplane.structs.warm import warm_type_info

from .config import AgentConfig

log = logging.getLogger(__name__)


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        config.check()
        warm_type_info()  # before any thread decodes (structs/warm.py)
        self.config = config
        self.server: Server | None = None
        self.client: ClientAgent | None = None
        self._rpc: HTTPServerRPC | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        # set when a part the agent cannot run without (the HTTP API) died
        self.fatal = threading.Event()
        self._shutting_down = False
        self._tmp_dir: str | None = None
        self._drivers: dict[str, Driver] = {}
        self._started_at = time.monotonic()

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        sock = _bind(cfg.bind, cfg.http_port)
        cfg.http_port = sock.getsockname()[1]
        if cfg.dev or cfg.server:
            if cfg.rpc_port == 0:
                cfg.rpc_port = _free_port(cfg.bind)
            self.server = Server(
                ServerConfig(
                    name=cfg.node_name,
                    region=cfg.region,
                    datacenter=cfg.datacenter,
                    raft=RaftConfig(
                        self_addr=cfg.rpc_addr,
                        peers=[p for p in cfg.retry_join if p != cfg.rpc_addr],
                        data_dir=None if cfg.dev else cfg.data_dir,
                        password=cfg.encrypt or None,
                    ),
                    num_workers=cfg.num_schedulers,
                    min_heartbeat_ttl_s=cfg.min_heartbeat_ttl_s,
                    max_heartbeats_per_second=cfg.max_heartbeats_per_second,
                    heartbeat_grace_s=cfg.heartbeat_grace_s,
                    http_addr=cfg.http_addr,
                    bootstrap_expect=cfg.bootstrap_expect,
                    acl_enabled=cfg.acl_enabled,
                    federation=FederationConfig(
                        interval_s=cfg.federation_interval_s,
                        failed_after_s=cfg.federation_failed_after_s,
                        drop_after_s=cfg.federation_drop_after_s,
                        seeds=list(cfg.retry_join_wan),
                        scheme=cfg.tls.scheme,
                        verify=cfg.tls.client_verify(),
                        key=cfg.encrypt.encode(),
                    ),
                )
            )
            # peers' keyring endpoints are reached as any agent's API is
            self.server.keyring.set_transport(cfg.tls.url, cfg.tls.client_verify())
        self._start_http(sock)
        if cfg.dev or cfg.client:
            self._start_client()

    def _start_http(self, sock: socket.socket) -> None:
        app = build_app(self, max_body_bytes=self.config.http_max_body_bytes)
        self._http = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                lifespan="off",
                access_log=False,
                # one write per small response, not two (api/http_protocol.py)
                http=HttpProtocol,
                # no proxy sits in front of an agent: X-Forwarded-For must not
                # rewrite the peer address (the keyring checks it), and the
                # middleware costs every request a layer
                proxy_headers=False,
                timeout_graceful_shutdown=1,
                **self.config.tls.uvicorn_kwargs(),
            )
        )
        http = self._http

        def serve() -> None:
            try:
                http.run(sockets=[sock])
            except BaseException:
                log.exception("agent: the HTTP server crashed")
                raise
            finally:
                # an API that stops answering while the process lives on looks
                # like a dead agent to everyone: say so, and let `serve` exit
                if not self._shutting_down:
                    log.error("agent: the HTTP server stopped unexpectedly")
                    self.fatal.set()

        self._http_thread = threading.Thread(target=serve, name="http", daemon=True)
        self._http_thread.start()
        deadline = time.monotonic() + 10
        while not http.started:
            if time.monotonic() > deadline or not self._http_thread.is_alive():
                raise RuntimeError(f"HTTP API did not start on {self.config.http_addr}")
            time.sleep(0.01)

    def _start_client(self) -> None:
        cfg = self.config
        data_dir = cfg.data_dir
        if not data_dir:
            self._tmp_dir = tempfile.mkdtemp(prefix="nomadtui-dev-")
            data_dir = self._tmp_dir
        servers = cfg.servers or [cfg.http_addr]
        self._drivers = builtin_drivers()
        self._rpc = HTTPServerRPC(servers, scheme=cfg.tls.scheme, verify=cfg.tls.client_verify())
        self.client = ClientAgent(
            ClientConfig(
                data_dir=Path(data_dir),
                node_name=cfg.node_name,
                datacenter=cfg.datacenter,
                node_class=cfg.node_class,
                region=cfg.region,
                advertise_ip=cfg.bind,
                http_addr=cfg.http_addr,
                tls_enabled=cfg.tls.http,
                meta=dict(cfg.meta),
            ),
            self._rpc,
            self._drivers,
        )
        self.client.start()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Until the server has a leader and the client has registered."""
        deadline = time.monotonic() + timeout
        if self.server is not None:
            while not self.server.raft.leader_addr():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
        if self.client is not None:
            return self.client.wait_registered(max(0.0, deadline - time.monotonic()))
        return True

    def shutdown(self) -> None:
        self._shutting_down = True
        cfg = self.config
        if self.server is not None:
            # long polls (the local client's among them) return now
            self.server.store.notifier.close()
        if self.client is not None:
            # dev agents clean up after themselves; real clients leave tasks
            # running so a restarted agent can reattach
            self.client.shutdown(kill_tasks=cfg.dev, timeout=15.0)
        for driver in self._drivers.values():
            close = getattr(driver, "close", None)
            if close is not None:
                close()
        if self._http is not None:
            self._http.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
        if self.server is not None:
            self.server.shutdown()
        if self._tmp_dir:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    # -- status ----------------------------------------------------------
    def leader_contact(self) -> tuple[bool, int]:
        """(known leader, ms since last contact) for X-Nomad-* headers."""
        if self.server is None:
            return True, 0
        raft = self.server.raft
        return bool(raft.leader_addr()), raft.last_contact_ms()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without, a kept-alive request waits for
    # the client's delayed ACK (Nagle) and every API call takes ~44 ms, not ~0.5 ms
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def start_dev_agent(timeout: float = 30.0) -> Agent:
    """An in-process dev agent on free loopback ports, ready to use (console --dev)."""
    agent = Agent(AgentConfig(dev=True, http_port=0, rpc_port=0))
    agent.start()
    if not agent.wait_ready(timeout):
        agent.shutdown()
        raise RuntimeError("the embedded dev agent did not become ready")
    return agent
