"""Where templates get their Nomad data: the TemplateSource protocol (the
servers' variables and native service catalog), an in-memory StaticSource for
tests and offline rendering, and RenderContext, what one render may read
(the task's env, the source, the namespace) and what it found missing.

Sources return the HTTP API's shapes (`GET /v1/var/:path`, `/v1/vars`,
`/v1/service/:name`, `/v1/services`); the template functions turn them into
the structs consul-template exposes. A source never blocks for long: a
variable that does not exist is `None`, and the caller waits (Nomad blocks
the first render until every `nomadVar` exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class TemplateSource(Protocol):
    def get_variable(self, namespace: str, path: str) -> dict[str, Any] | None:
        """The variable (API shape: Namespace, Path, Items, ...), or None."""
        ...

    def list_variables(self, namespace: str, prefix: str) -> list[dict[str, Any]]:
        """Metadata of the variables under `prefix` (API shape, no Items)."""
        ...

    def list_services(self, namespace: str, name: str, choose: str = "") -> list[dict[str, Any]]:
        """Registrations of service `name` (API shape: ID, ServiceName, Address, Port, ...)."""
        ...

    def service_names(self, namespace: str) -> list[dict[str, Any]]:
        """`[{"ServiceName": ..., "Tags": [...]}]` of the namespace."""
        ...


@dataclass
class StaticSource:
    """A TemplateSource over fixed data: `variables[(namespace, path)] = items`,
    `services[(namespace, name)] = registrations`. Tests change the dicts to
    make a watcher see changes."""

    variables: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    services: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def get_variable(self, namespace: str, path: str) -> dict[str, Any] | None:
        items = self.variables.get((namespace, path))
        if items is None:
            return None
        return {"Namespace": namespace, "Path": path, "Items": dict(items)}

    def list_variables(self, namespace: str, prefix: str) -> list[dict[str, Any]]:
        return [
            {"Namespace": ns, "Path": path}
            for (ns, path) in sorted(self.variables)
            if ns == namespace and path.startswith(prefix)
        ]

    def list_services(self, namespace: str, name: str, choose: str = "") -> list[dict[str, Any]]:
        return [dict(r) for r in self.services.get((namespace, name), [])]

    def service_names(self, namespace: str) -> list[dict[str, Any]]:
        out = []
        for (ns, name), regs in sorted(self.services.items()):
            if ns != namespace or not regs:
                continue
            tags = sorted({t for r in regs for t in (r.get("Tags") or [])})
            out.append({"ServiceName": name, "Tags": tags})
        return out


@dataclass
class RenderContext:
    """Inputs of one render, and what it saw."""

    env: Mapping[str, str] = field(default_factory=dict)
    source: TemplateSource | None = None
    namespace: str = "default"
    region: str = "global"
    # error_on_missing_key: a missing map key fails instead of `<no value>`
    missing_key_error: bool = False
    # filled by the render: data it depends on, and data that does not exist yet
    deps: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)

    def require_source(self, func: str) -> TemplateSource:
        if self.source is None:
            raise RuntimeError(f"{func} needs the Nomad servers, and none are configured")
        return self.source
