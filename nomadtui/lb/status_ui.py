"""The load balancer's status server: an HTML page of routes and instances
(health, hits) on `/`, and the routing table as JSON on `/api/routes`.

Read-only raw ASGI app; it renders what the proxy and watcher hold and
changes nothing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import Any

from .proxy import Receive, Scope, Send
from .routes import RoutingTable


def routes_json(table: RoutingTable, hits: Mapping[str, int]) -> list[dict[str, Any]]:
    """The routing table in lookup order, in Nomad-style field names."""
    return [
        {
            "Route": route.key,
            "Host": route.host,
            "Prefix": route.prefix,
            "Strip": route.strip,
            "Services": list(route.services),
            "Instances": [
                {
                    "ID": inst.id,
                    "ServiceName": inst.service,
                    "Address": inst.address,
                    "Port": inst.port,
                    "Health": inst.health,
                    "Healthy": inst.healthy,
                    "AllocID": inst.alloc_id,
                    "NodeID": inst.node_id,
                    "Hits": hits.get(inst.id, 0),
                }
                for inst in route.instances
            ],
        }
        for route in table.routes
    ]


_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    ".passing,.healthy{color:#1a7f37}.critical{color:#cf222e}.warning{color:#9a6700}"
)


def status_page(table: RoutingTable, hits: Mapping[str, int], info: Mapping[str, str]) -> str:
    esc = html.escape
    rows = []
    for route in table.routes:
        if not route.instances:
            continue
        for n, inst in enumerate(route.instances):
            health = inst.health or "healthy"
            first = (
                f'<td rowspan="{len(route.instances)}">{esc(route.key)}'
                + (f"<br>strip={esc(route.strip)}" if route.strip else "")
                + f"<br>{len(route.healthy)}/{len(route.instances)} healthy</td>"
                if n == 0
                else ""
            )
            rows.append(
                f"<tr>{first}<td>{esc(inst.service)}</td><td>{esc(inst.alloc_id[:8])}</td>"
                f"<td>{esc(inst.hostport)}</td><td class={esc(health)}>{esc(health)}</td>"
                f"<td>{hits.get(inst.id, 0)}</td></tr>"
            )
    body = (
        "".join(rows) or '<tr><td colspan="6">no routes: no service has a urlprefix- tag</td></tr>'
    )
    facts = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in info.items())
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>nomadtui lb</title>"
        f"<style>{_STYLE}</style></head><body><h1>nomadtui lb</h1><ul>{facts}</ul>"
        "<table><tr><th>Route</th><th>Service</th><th>Alloc</th><th>Address</th>"
        f"<th>Health</th><th>Hits</th></tr>{body}</table>"
        '<p><a href="/api/routes">/api/routes</a></p></body></html>'
    )


class StatusApp:
    def __init__(
        self,
        table: Callable[[], RoutingTable],
        hits: Mapping[str, int],
        info: Callable[[], Mapping[str, str]],
    ) -> None:
        self._table = table
        self._hits = hits
        self._info = info

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            status, ctype, body = 405, "text/plain", b"method not allowed\n"
        elif path == "/api/routes":
            data = routes_json(self._table(), self._hits)
            status, ctype, body = 200, "application/json", json.dumps(data).encode()
        elif path == "/":
            page = status_page(self._table(), self._hits, self._info())
            status, ctype, body = 200, "text/html; charset=utf-8", page.encode()
        else:
            status, ctype, body = 404, "text/plain", f"no page {path}\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
