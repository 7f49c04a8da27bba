"""Region federation: the WAN pool of servers of every region (soft state).

Each server keeps a table of the servers it knows of, in every region (its
own included): name, region, datacenter, HTTP and Raft addresses and when
anyone last heard from it (`last_seen`, wall-clock seconds: compared across
servers). Every `interval_s` (with jitter) it exchanges that table push-pull
(`PUT /v1/internal/federation`) with one server of each other region, one
server of its own region, and each `-retry-join-wan` seed it has not reached
yet; newer `last_seen` wins. A server not heard from for `failed_after_s` is
`failed`; one not heard from for `drop_after_s` is forgotten, and a region
with no server left is dropped (as Nomad's serf WAN pool reaps members).

With a gossip key (the agents' `encrypt` key: the same in every region, as
Nomad's), every push and its answer carry an HMAC of their body
(SIGNATURE_HEADER); an unsigned or wrongly signed one is refused, so nobody
without the key can slip a server of their own into the table (it would
receive forwarded requests and their tokens).

Never replicated through Raft and never forwards requests
(api/region_forward.py does, with `targets`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from controlplane.errors import PermissionDenied, ValidationError

log = logging.getLogger(__name__)

ALIVE = "alive"
FAILED = "failed"
PATH = "/v1/internal/federation"
SIGNATURE_HEADER = "X-Nomad-Federation-Signature"


@dataclass
class FederationConfig:
    interval_s: float = 3.0
    failed_after_s: float = 15.0
    drop_after_s: float = 120.0
    # HTTP addresses (host:port) of servers in other regions (-retry-join-wan)
    seeds: list[str] = field(default_factory=list)
    # the agent's TLS settings for its calls to other agents
    scheme: str = "http"
    verify: ssl.SSLContext | bool = True
    timeout_s: float = 2.0
    # HMAC key of every exchange (empty: exchanges are not signed)
    key: bytes = b""


def sign(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_by(key: bytes, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(key, body), signature)


@dataclass(frozen=True)
class WanServer:
    name: str
    region: str
    http_addr: str
    rpc_addr: str = ""
    datacenter: str = ""
    build: str = ""
    last_seen: float = 0.0

    def to_wire(self, status: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": self.name,
            "Region": self.region,
            "Datacenter": self.datacenter,
            "Addr": self.http_addr,
            "RPCAddr": self.rpc_addr,
            "Build": self.build,
            "LastSeen": int(self.last_seen * 1e9),
        }
        if status:
            out["Status"] = status
        return out

    @classmethod
    def from_wire(cls, data: Any) -> WanServer | None:
        """None for anything malformed: a bad entry from a peer is skipped, not fatal."""
        if not isinstance(data, dict):
            return None
        name, region, addr = data.get("Name"), data.get("Region"), data.get("Addr")
        seen = data.get("LastSeen")
        if not (isinstance(name, str) and isinstance(region, str) and isinstance(addr, str)):
            return None
        if not (name and region and addr) or not isinstance(seen, int | float):
            return None
        return cls(
            name=name,
            region=region,
            http_addr=addr,
            rpc_addr=str(data.get("RPCAddr") or ""),
            datacenter=str(data.get("Datacenter") or ""),
            build=str(data.get("Build") or ""),
            last_seen=float(seen) / 1e9,
        )


# -- the table: pure functions over {http_addr: WanServer} -----------------------


def merge(
    table: dict[str, WanServer], incoming: Iterable[WanServer], now: float, self_addr: str
) -> dict[str, WanServer]:
    """`table` updated with `incoming`: per server, the newer `last_seen` wins.

    A peer's clock ahead of ours must not make its entries win forever: times
    are capped at `now`. Nobody else speaks for this server (`self_addr`).
    """
    out = dict(table)
    for s in incoming:
        if s.http_addr == self_addr:
            continue
        if s.last_seen > now:
            s = replace(s, last_seen=now)
        current = out.get(s.http_addr)
        if current is None or s.last_seen > current.last_seen:
            out[s.http_addr] = s
    return out


def prune(table: dict[str, WanServer], now: float, drop_after_s: float) -> dict[str, WanServer]:
    """Without the servers nobody heard from for `drop_after_s` (and so without
    a region whose servers all went quiet)."""
    return {a: s for a, s in table.items() if now - s.last_seen <= drop_after_s}


def status_of(server: WanServer, now: float, failed_after_s: float) -> str:
    return ALIVE if now - server.last_seen <= failed_after_s else FAILED


class Federation:
    """The WAN table of one server and the loop that keeps it fresh."""

    def __init__(
        self,
        me: WanServer,
        config: FederationConfig,
        local_peers: Callable[[], list[str]] = list,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.me = me
        self.cfg = config
        # HTTP addresses of this region's other servers (the replicated registry)
        self._local_peers = local_peers
        self._clock = clock
        self._lock = threading.Lock()
        self._table: dict[str, WanServer] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def region(self) -> str:
        return self.me.region

    # -- reads -------------------------------------------------------------
    def servers(self) -> list[tuple[WanServer, str]]:
        """Every known server (this one included) with its status, by region, name."""
        now = self._clock()
        with self._lock:
            self._table = prune(self._table, now, self.cfg.drop_after_s)
            known = [*self._table.values(), replace(self.me, last_seen=now)]
        known.sort(key=lambda s: (s.region, s.name, s.http_addr))
        return [(s, status_of(s, now, self.cfg.failed_after_s)) for s in known]

    def regions(self) -> list[str]:
        return sorted({s.region for s, _ in self.servers()})

    def known(self, region: str) -> bool:
        return any(s.region == region for s, _ in self.servers())

    def targets(self, region: str) -> list[str]:
        """HTTP addresses of `region`'s live servers, shuffled (spreads the load)."""
        addrs = [
            s.http_addr
            for s, status in self.servers()
            if s.region == region and status == ALIVE and s.http_addr != self.me.http_addr
        ]
        random.shuffle(addrs)
        return addrs

    def last_heard(self, region: str) -> float:
        """Seconds since anyone heard from a server of `region` (inf if unknown)."""
        now = self._clock()
        seen = [s.last_seen for s, _ in self.servers() if s.region == region]
        return now - max(seen) if seen else float("inf")

    def view(self) -> dict[str, Any]:
        """The wire form of the table (GET/PUT /v1/internal/federation)."""
        regions: dict[str, list[dict[str, Any]]] = {}
        for s, status in self.servers():
            regions.setdefault(s.region, []).append(s.to_wire(status))
        return {"Region": self.me.region, "Name": self.me.name, "Regions": regions}

    # -- exchange ------------------------------------------------------------
    def receive(self, data: Any) -> dict[str, Any]:
        """Merge a peer's view (the PUT body); answer with ours."""
        self._merge(_entries(data))
        return self.view()

    def receive_signed(self, body: bytes, signature: str) -> tuple[bytes, str]:
        """`receive` for the wire: checks the push's signature (when there is a
        key), answers with our view as bytes and their signature."""
        key = self.cfg.key
        if key and not signed_by(key, body, signature):
            raise PermissionDenied("federation exchange: missing or wrong signature")
        try:
            data = json.loads(body)
        except ValueError:
            raise ValidationError("federation exchange: body is no JSON") from None
        if not isinstance(data, dict):
            raise ValidationError("federation exchange: expected a JSON object")
        answer = json.dumps(self.receive(data)).encode()
        return answer, sign(key, answer) if key else ""

    def _merge(self, entries: list[WanServer]) -> None:
        now = self._clock()
        with self._lock:
            merged = merge(self._table, entries, now, self.me.http_addr)
            self._table = prune(merged, now, self.cfg.drop_after_s)

    def exchange(self, addr: str, http: httpx.Client | None = None) -> WanServer | None:
        """Push-pull with the server at `addr` (HTTP host:port): the server that
        answered (heard from just now), or None when nothing answered there as a
        federation peer."""
        url = f"{self.cfg.scheme}://{addr}{PATH}"
        key = self.cfg.key
        body = json.dumps(self.view()).encode()
        headers = {"Content-Type": "application/json"}
        if key:
            headers[SIGNATURE_HEADER] = sign(key, body)
        try:
            if http is None:
                with httpx.Client(timeout=self.cfg.timeout_s, verify=self.cfg.verify) as own:
                    resp = own.put(url, content=body, headers=headers)
            else:
                resp = http.put(url, content=body, headers=headers)
            if resp.status_code != 200:
                return None
            if key and not signed_by(key, resp.content, resp.headers.get(SIGNATURE_HEADER, "")):
                log.warning("federation: %s answered without our gossip key's signature", addr)
                return None
            data = resp.json()
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        entries = _entries(data)
        now = self._clock()
        # the responder spoke just now: that is first-hand news of it
        responder = next(
            (s for s in entries if s.name == data.get("Name") and s.region == data.get("Region")),
            None,
        )
        if responder is not None:
            responder = replace(responder, last_seen=now)
            entries.append(responder)
        self._merge(entries)
        return responder

    # -- the loop --------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="federation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        # the first round soon (seeds are news), once this agent's HTTP API is up
        wait = min(0.5, self.cfg.interval_s)
        with httpx.Client(timeout=self.cfg.timeout_s, verify=self.cfg.verify) as http:
            while not self._stop.wait(wait):
                wait = self.cfg.interval_s * random.uniform(0.8, 1.2)
                try:
                    self.gossip_once(http)
                except Exception:
                    log.exception("federation: gossip round failed region=%s", self.region)

    def gossip_once(self, http: httpx.Client | None = None) -> None:
        for addr in self.round_targets():
            if self._stop.is_set():
                return
            if self.exchange(addr, http) is None:
                log.debug("federation: no answer from %s", addr)

    def round_targets(self) -> list[str]:
        """Whom to talk to this round: a server of each other region (a live
        one when there is one), one of this region, and unreached seeds."""
        by_region: dict[str, list[tuple[WanServer, str]]] = {}
        for s, status in self.servers():
            if s.http_addr != self.me.http_addr:
                by_region.setdefault(s.region, []).append((s, status))
        picks: list[str] = []
        for region, members in by_region.items():
            if region == self.me.region:
                continue
            alive = [s.http_addr for s, status in members if status == ALIVE]
            picks.append(random.choice(alive or [s.http_addr for s, _ in members]))
        local = {s.http_addr for s, _ in by_region.get(self.me.region, [])}
        local.update(a for a in self._local_peers() if a and a != self.me.http_addr)
        if local:
            picks.append(random.choice(sorted(local)))
        known = {s.http_addr for s, _ in self.servers()}
        picks += [a for a in self.cfg.seeds if a not in known and a != self.me.http_addr]
        return list(dict.fromkeys(picks))


def _entries(data: Any) -> list[WanServer]:
    regions = data.get("Regions") if isinstance(data, dict) else None
    if not isinstance(regions, dict):
        return []
    out = []
    for members in regions.values():
        for raw in members if isinstance(members, list) else []:
            s = WanServer.from_wire(raw)
            if s is not None:
                out.append(s)
    return out
