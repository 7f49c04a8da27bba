"""`nomadtui serve` / `nomadtui agent`: flags, banner, run until a signal.

Flags follow Nomad's single-dash style (`-dev`, `-data-dir D`); a `-config`
HCL file is applied first, flags on top.
"""

from __future__ import annotations

import argparse
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
"""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser(prog: str = "nomadtui serve") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        prefix_chars="-",
    )
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
        "-bootstrap-expect",
        "--bootstrap-expect",
        dest="bootstrap_expect",
        type=int,
        default=None,
        help="server: number of servers to expect",
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
    return cfg


def banner(cfg: AgentConfig) -> str:
    rows = [
        ("Advertise Addrs", f"HTTP: {cfg.http_addr}; RPC: {cfg.rpc_addr}"),
        ("Bind Addrs", f"HTTP: {cfg.http_addr}; RPC: {cfg.rpc_addr}"),
        ("Client", str(cfg.client or cfg.dev).lower()),
        ("Log Level", cfg.log_level.upper()),
        ("Region", f"{cfg.region} (DC: {cfg.datacenter})"),
        ("Server", str(cfg.server or cfg.dev).lower()),
        ("Version", __version__),
    ]
    width = max(len(k) for k, _ in rows) + 7
    lines = ["==> nomadtui agent configuration:", ""]
    lines += [f"{k.rjust(width)}: {v}" for k, v in rows]
    return "\n".join(lines) + "\n"


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
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
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        print(f"==> Caught signal: {signal.Signals(signum).name}", flush=True)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    stop.wait()
    print("==> Gracefully shutting down agent...", flush=True)
    agent.shutdown()
    return 0
