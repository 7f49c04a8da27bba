"""Command palette (ctrl+p): jump to any job, allocation, node or service, or switch view.

The provider loads the IDs once when the palette opens (off the UI thread)
and matches them fuzzily as the operator types.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from controlplane.errors import NomadError

if TYPE_CHECKING:
    from .app import ConsoleApp


class JumpProvider(Provider):
    """`job web`, `alloc 1c2f`, `node dev`, `service api`, or a view name (or alias)."""

    async def startup(self) -> None:
        self.targets: list[tuple[str, str, str]] = []  # (text, kind, id)
        app = self.app
        client = app.client  # type: ignore[attr-defined]

        def load() -> list[tuple[str, str, str]]:
            out: list[tuple[str, str, str]] = []
            try:
                for j in client.jobs().data or []:
                    out.append((f"job {j['ID']}", "job", j["ID"]))
                for n in client.nodes().data or []:
                    out.append((f"node {n.get('Name', '')} {n['ID'][:8]}", "node", n["ID"]))
                allocs: list[dict[str, Any]] = client.get("/v1/allocations").data or []
                for a in allocs[-500:]:
                    out.append((f"alloc {a['ID'][:8]} {a.get('Name', '')}", "alloc", a["ID"]))
                for entry in client.services().data or []:
                    for svc in entry.get("Services") or []:
                        name = svc.get("ServiceName", "")
                        out.append((f"service {name}", "service", name))
            except NomadError:
                pass
            return out

        self.targets = await asyncio.to_thread(load)

    def _open(self, kind: str, ident: str) -> None:
        app: ConsoleApp = self.app  # type: ignore[assignment]
        if kind == "view":
            app.run_command(ident)
        else:
            app.open_detail(kind, ident)

    def _views(self) -> list[tuple[str, str, str]]:
        from .app import ALIASES, VIEWS

        def text(name: str) -> str:
            # short aliases (`svc`) match too; the singular ones add nothing
            short = [a for a, view in ALIASES.items() if view == name and a not in name]
            return f"view {name}" + (f" ({', '.join(short)})" if short else "")

        return [(text(name), "view", name) for name in VIEWS]

    async def discover(self) -> Hits:
        for text, kind, ident in self._views():
            yield DiscoveryHit(text, partial(self._open, kind, ident), help=f"switch to :{ident}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, kind, ident in self._views() + self.targets:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._open, kind, ident),
                          help=f"open {kind}" if kind != "view" else f"switch to :{ident}")
