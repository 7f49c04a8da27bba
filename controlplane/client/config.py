"""Client agent configuration: where it keeps its data, how it names itself,
what it reserves, and the timing of its loops. Plain data; no behaviour."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ClientConfig:
    """Settings of one client agent (Nomad's `client {}` block, flattened)."""

    data_dir: Path | str
    node_name: str = ""  # empty: the machine's hostname
    datacenter: str = "dc1"
    node_class: str = ""
    node_pool: str = "default"
    region: str = "global"
    advertise_ip: str = "127.0.0.1"
    # host:port of this agent's HTTP API, advertised as Node.HTTPAddr
    http_addr: str = ""
    tls_enabled: bool = False  # the HTTP API is served over TLS (Node.TLSEnabled)
    meta: dict[str, str] = field(default_factory=dict)

    reserved_cpu_mhz: int = 0
    reserved_memory_mb: int = 0
    reserved_disk_mb: int = 0
    reserved_ports: str = ""  # e.g. "22,80,8000-8100"
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000

    # None: every driver handed to the agent; otherwise only these names
    drivers_enabled: list[str] | None = None
    # per-driver options (e.g. {"docker": {"volumes": True}}); drivers read their own
    driver_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    # timing of the agent's loops
    alloc_watch_wait_s: float = 30.0  # blocking-query wait of the alloc watch
    alloc_update_interval_s: float = 0.2  # batching window of alloc status updates
    register_backoff_max_s: float = 10.0
    heartbeat_retry_s: float = 1.0
    driver_refresh_s: float = 30.0  # re-fingerprint drivers this often (Nomad: 30 s)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.node_name:
            self.node_name = socket.gethostname()

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def client_dir(self) -> Path:
        """Agent-private state: node id, secret id, task handles."""
        return self.data_path / "client"

    @property
    def alloc_root(self) -> Path:
        """Parent of every allocation directory."""
        return self.data_path / "alloc"

    def driver_enabled(self, name: str) -> bool:
        return self.drivers_enabled is None or name in self.drivers_enabled
