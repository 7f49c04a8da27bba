"""AgentConfig: what one agent runs and where; from flags and an HCL config file.

Flags override the file; the file overrides defaults. `-dev` means: one
server (in-memory, bootstrap 1) and one client in the same process, on
127.0.0.1, with the default ports unless given.
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from controlplane.errors import ValidationError
from controlplane.jobspec.durations import parse_duration

from .tls import TLSConfig, check_encrypt_key


@dataclass
class AgentConfig:
    dev: bool = False
    server: bool = False
    client: bool = False
    data_dir: str = ""
    bind: str = "127.0.0.1"
    http_port: int = 4646
    rpc_port: int = 4647
    serf_port: int = 4648
    node_name: str = field(default_factory=socket.gethostname)
    datacenter: str = "dc1"
    region: str = "global"
    node_class: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    # client: HTTP addresses of the servers (host:port)
    servers: list[str] = field(default_factory=list)
    # server: Raft addresses of the other servers (host:port)
    retry_join: list[str] = field(default_factory=list)
    # server: HTTP addresses of servers in other regions (-retry-join-wan)
    retry_join_wan: list[str] = field(default_factory=list)
    # server { federation { gossip_interval, failed_after, drop_after } } (ours):
    # how often servers exchange the WAN member list, when a quiet server is
    # failed, and when it (and a region left without servers) is forgotten
    federation_interval_s: float = 3.0
    federation_failed_after_s: float = 15.0
    federation_drop_after_s: float = 120.0
    bootstrap_expect: int = 1
    num_schedulers: int = 2
    # server { min_heartbeat_ttl, max_heartbeats_per_second, heartbeat_grace }
    min_heartbeat_ttl_s: float = 10.0
    max_heartbeats_per_second: float = 50.0
    heartbeat_grace_s: float = 10.0
    # server { encrypt }: shared key encrypting Raft traffic between servers
    encrypt: str = ""
    tls: TLSConfig = field(default_factory=TLSConfig)
    # acl { enabled = true } / -acl-enabled: every request needs a token's rights
    acl_enabled: bool = False
    # limits { http_max_body_bytes } (our extension of Nomad's limits block):
    # larger request bodies get 413; snapshot restores have their own limit
    http_max_body_bytes: int = 8 << 20
    log_level: str = "INFO"

    @property
    def http_addr(self) -> str:
        return f"{self.bind}:{self.http_port}"

    @property
    def rpc_addr(self) -> str:
        return f"{self.bind}:{self.rpc_port}"

    def public(self) -> dict[str, Any]:
        """The config as /v1/agent/self shows it."""
        data = asdict(self)
        # a secret: shown as set or not, never its value
        data["encrypt"] = bool(self.encrypt)
        data["http_addr"] = self.http_addr
        data["rpc_addr"] = self.rpc_addr
        return data

    def check(self) -> None:
        if not (self.dev or self.server or self.client):
            raise ValidationError("Must specify either server, client or dev mode for the agent.")
        if self.client and not self.dev and not self.server and not self.servers:
            raise ValidationError("a client needs -servers (the servers' HTTP addresses)")
        if self.server and not self.dev and not self.data_dir:
            raise ValidationError("Must specify data directory (-data-dir) for a server")
        if self.server and self.bootstrap_expect > 1:
            # pysyncobj needs every founding member up front: -retry-join lists them
            others = {a for a in self.retry_join if a != self.rpc_addr}
            if len(others) + 1 < self.bootstrap_expect:
                raise ValidationError(
                    f"-bootstrap-expect {self.bootstrap_expect} needs the other "
                    f"{self.bootstrap_expect - 1} servers' Raft addresses in -retry-join "
                    f"(got {len(others)})"
                )
        if self.federation_interval_s <= 0 or self.federation_failed_after_s <= 0:
            raise ValidationError("server.federation: durations must be positive")
        if self.federation_drop_after_s < self.federation_failed_after_s:
            raise ValidationError(
                "server.federation: drop_after must not be shorter than failed_after"
            )
        if self.encrypt:
            check_encrypt_key(self.encrypt)
        self.tls.check()


def load_config_file(path: str, cfg: AgentConfig) -> AgentConfig:
    """Apply an agent HCL file (Nomad's agent config subset) on top of `cfg`."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValidationError(f"Error loading configuration from {path}: {exc.strerror}") from None
    try:
        data = hcl2.loads(
            text,
            serialization_options=SerializationOptions(
                strip_string_quotes=True, explicit_blocks=False
            ),
        )
    except Exception as exc:
        raise ValidationError(f"Error parsing {path}: {exc}") from None

    def block(d: dict[str, Any], name: str) -> dict[str, Any]:
        v = d.get(name) or {}
        if isinstance(v, list):
            v = v[0] if v else {}
        return v if isinstance(v, dict) else {}

    for key, attr in (
        ("data_dir", "data_dir"),
        ("bind_addr", "bind"),
        ("region", "region"),
        ("datacenter", "datacenter"),
        ("name", "node_name"),
        ("log_level", "log_level"),
    ):
        if key in data:
            setattr(cfg, attr, str(data[key]))
    ports = block(data, "ports")
    for key in ("http", "rpc", "serf"):
        if key in ports:
            setattr(cfg, f"{key}_port", int(ports[key]))
    server = block(data, "server")
    if server.get("enabled"):
        cfg.server = True
    if "bootstrap_expect" in server:
        cfg.bootstrap_expect = int(server["bootstrap_expect"])
    join = block(server, "server_join")
    if join.get("retry_join"):
        cfg.retry_join = [str(x) for x in join["retry_join"]]
    if join.get("retry_join_wan"):
        cfg.retry_join_wan = [str(x) for x in join["retry_join_wan"]]
    federation = block(server, "federation")
    for key, attr in (
        ("gossip_interval", "federation_interval_s"),
        ("failed_after", "federation_failed_after_s"),
        ("drop_after", "federation_drop_after_s"),
    ):
        if key in federation:
            setattr(cfg, attr, _seconds(federation[key], f"server.federation.{key}"))
    if "num_schedulers" in server:
        cfg.num_schedulers = int(server["num_schedulers"])
    for key, attr in (
        ("min_heartbeat_ttl", "min_heartbeat_ttl_s"),
        ("heartbeat_grace", "heartbeat_grace_s"),
    ):
        if key in server:
            setattr(cfg, attr, _seconds(server[key], f"server.{key}"))
    if "max_heartbeats_per_second" in server:
        cfg.max_heartbeats_per_second = float(server["max_heartbeats_per_second"])
    if server.get("encrypt"):
        cfg.encrypt = str(server["encrypt"])
    tls = block(data, "tls")
    if "http" in tls:
        cfg.tls.http = _bool(tls["http"], "tls.http")
    for key in ("ca_file", "cert_file", "key_file"):
        if key in tls:
            setattr(cfg.tls, key, str(tls[key]))
    if "verify_https_client" in tls:
        cfg.tls.verify_https_client = _bool(tls["verify_https_client"], "tls.verify_https_client")
    limits = block(data, "limits")
    if "http_max_body_bytes" in limits:
        try:
            cfg.http_max_body_bytes = int(limits["http_max_body_bytes"])
        except (TypeError, ValueError):
            raise ValidationError(
                f"{path}: limits.http_max_body_bytes must be a number of bytes"
            ) from None
        if cfg.http_max_body_bytes <= 0:
            raise ValidationError(f"{path}: limits.http_max_body_bytes must be positive")
    acl = block(data, "acl")
    if "enabled" in acl:
        cfg.acl_enabled = _bool(acl["enabled"], "acl.enabled")
    client = block(data, "client")
    if client.get("enabled"):
        cfg.client = True
    if client.get("servers"):
        cfg.servers = [str(x) for x in client["servers"]]
    if "node_class" in client:
        cfg.node_class = str(client["node_class"])
    if client.get("meta"):
        cfg.meta = {str(k): str(v) for k, v in block(client, "meta").items()}
    return cfg


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValidationError(f"{where}: expected a boolean, got {value!r}")


def _seconds(value: Any, where: str) -> float:
    """A Go duration ("10s", "500ms") in seconds."""
    try:
        return parse_duration(str(value)) / 1e9
    except ValueError as exc:
        raise ValidationError(f"{where}: {exc}") from None
