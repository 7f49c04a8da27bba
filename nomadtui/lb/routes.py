"""The load balancer's routing table: Fabio-style `urlprefix-` tags of catalog
entries turned into routes, route lookup, and instance picking.

Pure: built from plain catalog dicts (the wire shape of `/v1/service/:name`),
no I/O. The table is immutable; a new catalog means a new table, so a
request in flight keeps the table it started with.

Tag grammar (Fabio's, minus its TCP/TLS options):

    urlprefix-/path                 any host, paths starting with /path
    urlprefix-host/path             only requests whose Host is `host`
    urlprefix-/path strip=/path     forward without the /path prefix

Lookup: routes for the request's host first, then host-less ones; within
each, the longest prefix wins (plain string prefix, as Fabio).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TAG_PREFIX = "urlprefix-"

STRATEGIES = ("rr", "random")

# Health values a catalog entry may carry; "" = the service has no checks.
HEALTHY = ("", "passing")


@dataclass(frozen=True)
class RouteSpec:
    """One parsed `urlprefix-` tag."""

    host: str
    prefix: str
    strip: str = ""


def parse_tag(tag: str) -> RouteSpec | None:
    """The route a tag asks for, or None for tags that are not routes."""
    if not tag.startswith(TAG_PREFIX):
        return None
    words = tag[len(TAG_PREFIX) :].split()
    if not words:
        return None
    target, options = words[0], words[1:]
    slash = target.find("/")
    if slash < 0:
        return None  # `urlprefix-host` without a path is not a route (Fabio agrees)
    host, prefix = target[:slash].lower(), target[slash:]
    strip = ""
    for option in options:
        key, _, value = option.partition("=")
        if key == "strip" and value.startswith("/"):
            strip = value
    return RouteSpec(host=host, prefix=prefix, strip=strip)


@dataclass(frozen=True)
class Instance:
    """One catalog entry behind a route."""

    id: str
    service: str
    address: str
    port: int
    health: str = ""
    alloc_id: str = ""
    node_id: str = ""

    @property
    def healthy(self) -> bool:
        return self.health in HEALTHY

    @property
    def hostport(self) -> str:
        return f"{self.address}:{self.port}"

    @classmethod
    def from_registration(cls, reg: Mapping[str, Any]) -> Instance:
        return cls(
            id=str(reg.get("ID") or ""),
            service=str(reg.get("ServiceName") or ""),
            address=str(reg.get("Address") or ""),
            port=int(reg.get("Port") or 0),
            health=str(reg.get("Health") or ""),
            alloc_id=str(reg.get("AllocID") or ""),
            node_id=str(reg.get("NodeID") or ""),
        )


@dataclass(frozen=True)
class Route:
    host: str
    prefix: str
    strip: str
    services: tuple[str, ...]
    instances: tuple[Instance, ...]
    healthy: tuple[Instance, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "healthy", tuple(i for i in self.instances if i.healthy))

    @property
    def key(self) -> str:
        """`host/path` or `/path`: how the route is named in bodies and the UI."""
        return f"{self.host}{self.prefix}"

    def matches(self, host: str, path: str) -> bool:
        return (not self.host or self.host == host) and path.startswith(self.prefix)

    def upstream_path(self, path: str) -> str:
        """The path to send upstream (`strip` removed when it prefixes it)."""
        if self.strip and path.startswith(self.strip):
            return path[len(self.strip) :] or "/"
        return path


@dataclass(frozen=True)
class RoutingTable:
    routes: tuple[Route, ...] = ()
    index: int = 0

    @classmethod
    def build(cls, registrations: Iterable[Mapping[str, Any]], index: int = 0) -> RoutingTable:
        specs: dict[tuple[str, str], list[tuple[RouteSpec, Instance]]] = {}
        for reg in registrations:
            inst = Instance.from_registration(reg)
            if not inst.address or not inst.port:
                continue  # nothing to connect to
            for tag in reg.get("Tags") or ():
                spec = parse_tag(str(tag))
                if spec is not None:
                    specs.setdefault((spec.host, spec.prefix), []).append((spec, inst))
        routes = []
        for (host, prefix), entries in specs.items():
            strip = next((s.strip for s, _ in entries if s.strip), "")
            by_id = {inst.id: inst for _, inst in entries}
            # sorted so round-robin order does not depend on catalog order
            instances = tuple(sorted(by_id.values(), key=lambda i: i.id))
            services = tuple(sorted({i.service for i in instances}))
            routes.append(Route(host, prefix, strip, services, instances))
        # host routes before host-less ones; longer prefixes first within each
        routes.sort(key=lambda r: (r.host == "", -len(r.prefix), r.host, r.prefix))
        return cls(routes=tuple(routes), index=index)

    def lookup(self, host: str, path: str) -> Route | None:
        """The route for a request's Host header and path, None if none matches."""
        name = host.lower()
        bare = name.rsplit(":", 1)[0] if not name.endswith("]") else name
        for route in self.routes:
            if route.matches(name, path) or (bare != name and route.matches(bare, path)):
                return route
        return None


class Picker:
    """Chooses a healthy instance of a route: round-robin (per route, kept
    across table rebuilds) or random."""

    def __init__(self, strategy: str = "rr", rng: Callable[[int], int] | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (want rr or random)")
        self.strategy = strategy
        self._rng = rng or (lambda n: random.randrange(n))
        self._next: dict[str, int] = {}

    def pick(self, route: Route, avoid: Iterable[str] = ()) -> Instance | None:
        skip = set(avoid)
        candidates = [i for i in route.healthy if i.id not in skip] if skip else route.healthy
        if not candidates:
            return None
        if self.strategy == "random":
            return candidates[self._rng(len(candidates))]
        n = self._next.get(route.key, 0)
        self._next[route.key] = n + 1
        return candidates[n % len(candidates)]
