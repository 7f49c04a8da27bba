"""`nomadtui lb`: a Fabio-style HTTP load balancer fed by the native service
catalog (API.md §2.9) through blocking queries.

    routes      urlprefix- tags -> routing table, instance picking (pure)
    catalog     CatalogWatcher: blocking queries on /v1/services, /v1/service/:name
    proxy       ProxyApp: the streaming reverse proxy (raw ASGI)
    status_ui   StatusApp: status page and /api/routes
    server      LoadBalancer: wires them on one event loop

Talks to the control plane only over its HTTP API; never imports controlplane.
"""

from .routes import Instance, Picker, Route, RouteSpec, RoutingTable, parse_tag
from .server import ApiTarget, LoadBalancer, listen, parse_listen, sock_addr

__all__ = [
    "ApiTarget",
    "Instance",
    "LoadBalancer",
    "Picker",
    "Route",
    "RouteSpec",
    "RoutingTable",
    "listen",
    "parse_listen",
    "parse_tag",
    "sock_addr",
]
