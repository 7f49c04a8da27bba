"""HTTPServerRPC: the ServerRPC protocol over the servers' HTTP API.

Tries the servers in order and sticks with the first that answers; on a
connection error it moves to the next. Server errors are raised as the
typed errors of controlplane.errors.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx
import msgspec

from controlplane.errors import NoLeader, error_for_status
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Node,
    ServiceRegistration,
    to_builtins,
)


class HTTPServerRPC:
    def __init__(
        self,
        servers: list[str],
        token: str = "",
        timeout_s: float = 10.0,
        *,
        scheme: str = "http",
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """`scheme` applies to host:port addresses; `verify` is httpx's (with
        TLS: the cluster CA and this agent's certificate, controlplane/agent/tls.py)."""
        if not servers:
            raise ValueError("a client needs at least one server address")
        self._servers = [s if "://" in s else f"{scheme}://{s}" for s in servers]
        self._current = 0
        self._lock = threading.Lock()
        # without an explicit token the node authenticates with its own
        # SecretID, learnt at registration (what ACL-enabled servers accept)
        self._node_token = not token
        headers = {"X-Nomad-Token": token} if token else {}
        self._http = httpx.Client(headers=headers, timeout=timeout_s, verify=verify)
        self._timeout_s = timeout_s

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        json: object = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(len(self._servers)):
            with self._lock:
                base = self._servers[(self._current + attempt) % len(self._servers)]
            try:
                resp = self._http.request(
                    method,
                    base + path,
                    json=json,
                    params=params,
                    timeout=timeout or self._timeout_s,
                )
            except httpx.TransportError as exc:
                last = exc
                continue
            with self._lock:
                self._current = self._servers.index(base)
            if resp.status_code >= 400:
                raise error_for_status(resp.status_code, resp.text.strip())
            return resp
        raise NoLeader(f"no server reachable ({last})")

    def read(self, path: str, params: dict[str, str] | None = None) -> Any:
        """A read-only GET of the servers' public API (template data: services,
        variables); errors typed as the servers answered (404: NotFound)."""
        return self._request("GET", path, params=params).json()

    def register_node(self, node: Node) -> float:
        if self._node_token and node.secret_id:
            self._http.headers["X-Nomad-Token"] = node.secret_id
        resp = self._request("PUT", "/v1/internal/node/register", json={"Node": to_builtins(node)})
        return float(resp.json().get("HeartbeatTTL", 10e9)) / 1e9

    def heartbeat(self, node_id: str, status: str) -> float:
        resp = self._request(
            "PUT", f"/v1/internal/node/{node_id}/heartbeat", json={"Status": status}
        )
        return float(resp.json().get("HeartbeatTTL", 10e9)) / 1e9

    def get_allocs(
        self, node_id: str, min_index: int, wait_s: float
    ) -> tuple[list[Allocation], int]:
        resp = self._request(
            "GET",
            f"/v1/node/{node_id}/allocations",
            params={"index": str(min_index), "wait": f"{int(wait_s * 1000)}ms"},
            timeout=wait_s + wait_s / 16 + 10,
        )
        allocs = msgspec.json.decode(resp.content, type=list[Allocation], strict=False)
        return allocs, int(resp.headers.get("X-Nomad-Index", "0"))

    def update_allocs(self, updates: list[AllocClientUpdate]) -> None:
        self._request("PUT", "/v1/internal/allocs/update", json={"Allocs": to_builtins(updates)})

    def update_services(self, upserts: list[ServiceRegistration], delete_ids: list[str]) -> None:
        self._request(
            "PUT",
            "/v1/internal/services",
            json={"Upserts": to_builtins(upserts), "DeleteIDs": delete_ids},
        )
