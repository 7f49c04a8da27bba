"""ServerSource: the TemplateSource over the servers' public HTTP API, read
through the client's RPC (`read`, a GET with typed errors). Read-only.

    nomadVar       GET /v1/var/<path>?namespace=      404: no such variable
    nomadVarList   GET /v1/vars?prefix=&namespace=
    nomadService   GET /v1/service/<name>?namespace=[&choose=]
    nomadServices  GET /v1/services?namespace=
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from controlplane.errors import NotFound


class ServerSource:
    def __init__(self, rpc: object) -> None:
        """`rpc`: the client's ServerRPC; HTTPServerRPC has `read`."""
        self._rpc = rpc

    def _read(self, path: str, params: dict[str, str]) -> Any:
        read = getattr(self._rpc, "read", None)
        if read is None:
            raise RuntimeError("this client cannot read from the servers")
        return read(path, params)

    def get_variable(self, namespace: str, path: str) -> dict[str, Any] | None:
        try:
            var = self._read(
                "/v1/var/" + urllib.parse.quote(path.strip("/")), {"namespace": namespace}
            )
        except NotFound:
            return None
        return var if isinstance(var, dict) else None

    def list_variables(self, namespace: str, prefix: str) -> list[dict[str, Any]]:
        try:
            metas = self._read("/v1/vars", {"namespace": namespace, "prefix": prefix})
        except NotFound:
            return []
        return [m for m in metas or [] if isinstance(m, dict)]

    def list_services(self, namespace: str, name: str, choose: str = "") -> list[dict[str, Any]]:
        params = {"namespace": namespace}
        if choose:
            params["choose"] = choose
        regs = self._read("/v1/service/" + urllib.parse.quote(name, safe=""), params)
        return [r for r in regs or [] if isinstance(r, dict)]

    def service_names(self, namespace: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in self._read("/v1/services", {"namespace": namespace}) or []:
            if isinstance(entry, dict) and entry.get("Namespace", namespace) == namespace:
                out.extend(s for s in entry.get("Services") or [] if isinstance(s, dict))
        return out
