"""`nomadtui serve` / `nomadtui agent`: flags, banner, run until a signal.

Flags follow Nomad's single-dash style (`-dev`, `-data-dir D`); a `-config`
HCL file is applied first, flags on top.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import io
import logging
import signal
import sys
import threading

from controlplane import __version__
from controlplane.errors import NomadError

from .config import AgentConfig, load_config_file

DESCRIPTION = """Run a nomadtui agent: a server, a client, or both (-dev).

  nomadtui serve -dev                                   server + client, in memory
  nomadtui serve -server -data-dir /var/lib/nomadtui    a server keeping state on disk
  nomadtui serve -client -servers 127.0.0.1:4646 -data-dir /var/lib/nomadtui-client

TLS on the HTTP API (certificates from 'nomadtui tls ca create' / 'tls cert create'):

  nomadtui serve -server -data-dir D -tls-ca-file nomad-agent-ca.pem \\
      -tls-cert-file global-server-nomad.pem -tls-key-file global-server-nomad-key.pem \\
      -tls-verify-https-client -encrypt "$(nomadtui operator gossip keyring generate)"
"""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser(prog: str = "nomadtui serve") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        prefix_chars="-",
        add_help=False,
    )
    # Nomad spells it -help; argparse alone would read that as -h "elp"
    p.add_argument("-h", "-help", "--help", action="help", help="show this help and exit")
    p.add_argument(
        "-dev",
        "--dev",
        action="store_true",
        help="development mode: one server and one client, state in memory",
    )
    p.add_argument("-server", "--server", action="store_true", help="run a server")
    p.add_argument("-client", "--client", action="store_true", help="run a client")
    p.add_argument(
        "-data-dir",
        "--data-dir",
        dest="data_dir",
        default=None,
        help="where state is kept (Raft journal and snapshot; client alloc dirs)",
    )
    p.add_argument(
        "-config", "--config", dest="config", default=None, help="agent configuration file (HCL)"
    )
    p.add_argument("-bind", "--bind", default=None, help="address to listen on (127.0.0.1)")
    p.add_argument(
        "-http-port",
        "--http-port",
        dest="http_port",
        type=int,
        default=None,
        help="HTTP API port (4646)",
    )
    p.add_argument(
        "-rpc-port",
        "--rpc-port",
        dest="rpc_port",
        type=int,
        default=None,
        help="Raft / RPC port (4647)",
    )
    p.add_argument("-node", "--node", dest="node", default=None, help="node name (the hostname)")
    p.add_argument("-dc", "--dc", dest="dc", default=None, help="datacenter (dc1)")
    p.add_argument("-region", "--region", default=None, help="region (global)")
    p.add_argument("-node-class", "--node-class", dest="node_class", default=None)
    p.add_argument(
        "-servers",
        "--servers",
        default=None,
        help="client: comma-separated HTTP addresses of the servers",
    )
    p.add_argument(
        "-retry-join",
        "--retry-join",
        dest="retry_join",
        default=None,
        help="server: comma-separated Raft addresses of the other servers",
    )
    p.add_argument(
        "-retry-join-wan",
        "--retry-join-wan",
        dest="retry_join_wan",
        default=None,
        help="server: comma-separated HTTP addresses of servers in other regions to "
        "federate with (kept trying until reached)",
    )
    p.add_argument(
        "-bootstrap-expect",
        "--bootstrap-expect",
        dest="bootstrap_expect",
        type=int,
        default=None,
        help="server: number of servers to expect",
    )
    p.add_argument(
        "-encrypt",
        "--encrypt",
        dest="encrypt",
        default=None,
        metavar="KEY",
        help="server: shared key encrypting Raft traffic between servers (base64 of 32 "
        "bytes, 'nomadtui operator gossip keyring generate'); a server with another "
        "key cannot join",
    )
    p.add_argument(
        "-tls-http",
        "--tls-http",
        dest="tls_http",
        action="store_true",
        help="serve the HTTP API over TLS (tls { http = true }); implied by -tls-cert-file",
    )
    p.add_argument(
        "-tls-ca-file",
        "--tls-ca-file",
        dest="tls_ca_file",
        default=None,
        metavar="FILE",
        help="CA certificate (PEM) that signed the agents' certificates (tls.ca_file)",
    )
    p.add_argument(
        "-tls-cert-file",
        "--tls-cert-file",
        dest="tls_cert_file",
        default=None,
        metavar="FILE",
        help="this agent's certificate (PEM) for HTTPS and its calls to other agents "
        "(tls.cert_file)",
    )
    p.add_argument(
        "-tls-key-file",
        "--tls-key-file",
        dest="tls_key_file",
        default=None,
        metavar="FILE",
        help="private key (PEM) of -tls-cert-file (tls.key_file)",
    )
    p.add_argument(
        "-tls-verify-https-client",
        "--tls-verify-https-client",
        dest="tls_verify_https_client",
        action="store_true",
        help="require HTTPS callers to present a certificate signed by -tls-ca-file "
        "(tls.verify_https_client)",
    )
    p.add_argument(
        "-acl-enabled",
        "--acl-enabled",
        dest="acl_enabled",
        action="store_true",
        help="enforce ACLs: every request needs a token with the rights for it (acl.enabled)",
    )
    p.add_argument(
        "-log-level",
        "--log-level",
        dest="log_level",
        default=None,
        help="DEBUG, INFO, WARN, ERROR (INFO)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    cfg = AgentConfig()
    if args.config:
        load_config_file(args.config, cfg)
    cfg.dev = cfg.dev or args.dev
    cfg.server = cfg.server or args.server
    cfg.client = cfg.client or args.client
    for attr, value in (
        ("data_dir", args.data_dir),
        ("bind", args.bind),
        ("http_port", args.http_port),
        ("rpc_port", args.rpc_port),
        ("node_name", args.node),
        ("datacenter", args.dc),
        ("region", args.region),
        ("node_class", args.node_class),
        ("bootstrap_expect", args.bootstrap_expect),
        ("log_level", args.log_level),
    ):
        if value is not None:
            setattr(cfg, attr, value)
    if args.servers:
        cfg.servers = _csv(args.servers)
    if args.retry_join:
        cfg.retry_join = _csv(args.retry_join)
    if args.retry_join_wan:
        cfg.retry_join_wan = _csv(args.retry_join_wan)
    cfg.acl_enabled = cfg.acl_enabled or args.acl_enabled
    if args.encrypt is not None:
        cfg.encrypt = args.encrypt
    tls = cfg.tls
    for attr, value in (
        ("ca_file", args.tls_ca_file),
        ("cert_file", args.tls_cert_file),
        ("key_file", args.tls_key_file),
    ):
        if value is not None:
            setattr(tls, attr, value)
    tls.http = tls.http or args.tls_http or args.tls_cert_file is not None
    tls.verify_https_client = tls.verify_https_client or args.tls_verify_https_client
    return cfg


def banner(cfg: AgentConfig) -> str:
    rows = [
        ("Advertise Addrs", f"HTTP: {cfg.http_addr}; RPC: {cfg.rpc_addr}"),
        ("Bind Addrs", f"HTTP: {cfg.http_addr}; RPC: {cfg.rpc_addr}"),
        ("Client", str(cfg.client or cfg.dev).lower()),
        ("Raft Encryption", str(bool(cfg.encrypt)).lower()),
        ("Log Level", cfg.log_level.upper()),
        ("Region", f"{cfg.region} (DC: {cfg.datacenter})"),
        ("Server", str(cfg.server or cfg.dev).lower()),
        ("TLS", f"HTTP: {str(cfg.tls.http).lower()}"),
        ("Version", __version__),
    ]
    width = max(len(k) for k, _ in rows) + 7
    lines = ["==> nomadtui agent configuration:", ""]
    lines += [f"{k.rjust(width)}: {v}" for k, v in rows]
    return "\n".join(lines) + "\n"


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    # a crash in C code (or a deadlock dumped with SIGABRT) leaves a trace
    with contextlib.suppress(io.UnsupportedOperation, ValueError):
        faulthandler.enable()  # not when stderr is no real file (embedded, captured)
    from .agent import Agent

    try:
        cfg = config_from_args(args)
        logging.basicConfig(
            level=getattr(logging, cfg.log_level.upper().replace("WARN", "WARNING"), logging.INFO),
            format="    %(asctime)s [%(levelname)s] %(name)s: %(message)s",
        )
        # the client's own HTTP calls are not news to the operator
        logging.getLogger("httpx").setLevel(logging.WARNING)
        if args.config:
            print(f"==> Loaded configuration from {args.config}", flush=True)
        else:
            print("==> No configuration files loaded", flush=True)
        print("==> Starting nomadtui agent...", flush=True)
        agent = Agent(cfg)
        agent.start()
    except (NomadError, RuntimeError) as exc:
        print(f"Error starting agent: {exc}", file=sys.stderr)
        return 1
    print(banner(cfg), flush=True)
    print("==> nomadtui agent started! Log data will stream in below:\n", flush=True)
    # Everything the agent created to start (modules, classes, functions:
    # ~50,000 objects) lives as long as the process: keep it out of every
    # later full collection, which would walk it again each time.
    gc.collect()
    gc.freeze()
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        print(f"==> Caught signal: {signal.Signals(signum).name}", flush=True)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)

    def watch_fatal() -> None:
        agent.fatal.wait()
        stop.set()

    threading.Thread(target=watch_fatal, name="fatal-watch", daemon=True).start()
    stop.wait()
    print("==> Gracefully shutting down agent...", flush=True)
    agent.shutdown()
    if agent.fatal.is_set():
        print("==> Agent stopped after a fatal error (see the log above)", file=sys.stderr)
        return 1
    return 0
