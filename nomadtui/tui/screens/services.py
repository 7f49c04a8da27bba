"""Services (`:services`, `:svc`): the native service catalog, one row per
service name — tags, healthy/total instances, the worst health, the jobs
that register it; `enter` opens the service's instances.

One blocking query on `/v1/services` drives it: the catalog's index moves
with every registration change (health included), and each change costs one
read per service name, never a poll. Health words and colours live here and
the detail view reuses them. Read-only: deleting happens in the detail view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from nomadtui.client import NomadClient, Response

from ..watch import WAIT_S, Watch
from ..widgets.resource_table import Column, Row
from .base import ResourceScreen

HEALTH_STYLE = {"passing": "green", "warning": "yellow", "critical": "red"}
# worst first: a service is as healthy as its sickest instance
HEALTH_RANK = {"critical": 3, "warning": 2, "pending": 1, "passing": 0, "": -1}
NO_CHECKS = "no checks"


def healthy(reg: dict[str, Any]) -> bool:
    """Nomad counts an instance without checks as healthy."""
    return str(reg.get("Health") or "") in ("", "passing")


def health_text(health: str) -> Text:
    if not health:
        return Text(NO_CHECKS, style="dim")
    return Text(health, style=HEALTH_STYLE.get(health, "yellow"))


def worst_health(regs: list[dict[str, Any]]) -> str:
    healths = [str(r.get("Health") or "") for r in regs]
    return max(healths, key=lambda h: HEALTH_RANK.get(h, 1), default="")


def instances_text(regs: list[dict[str, Any]]) -> Text:
    total, ok = len(regs), sum(1 for r in regs if healthy(r))
    style = "green" if ok == total else "red" if ok == 0 else "yellow"
    return Text(f"{ok}/{total}", style=style if total else "dim")


def tags_text(tags: list[str] | None) -> str:
    return ",".join(sorted(tags or []))


@dataclass(frozen=True)
class Service:
    """One catalog name and its current registrations."""

    name: str
    namespace: str
    tags: list[str]
    regs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def jobs(self) -> list[str]:
        return sorted({str(r.get("JobID", "")) for r in self.regs if r.get("JobID")})


def fetch_catalog(
    client: NomadClient, index: int, stopped: Callable[[], bool] = lambda: False
) -> Response:
    """The service list (blocking), then each name's registrations at once.

    A watch stopped while the list was blocking reads no more: the app may
    be closing the client under it.
    """
    resp = client.services(index=index or None, wait=WAIT_S)
    out: list[Service] = []
    for entry in resp.data or []:
        ns = str(entry.get("Namespace", ""))
        for svc in entry.get("Services") or []:
            if stopped():
                return Response(data=[], index=resp.index)
            name = str(svc.get("ServiceName", ""))
            regs = client.service(name, namespace=ns or None).data or []
            out.append(Service(name, ns, list(svc.get("Tags") or []), list(regs)))
    return Response(data=out, index=resp.index)


def service_key(svc: Service, several_namespaces: bool) -> str:
    return f"{svc.namespace}/{svc.name}" if several_namespaces else svc.name


class ServicesScreen(ResourceScreen):
    VIEW_TITLE = "Services"
    SOURCE = "services"
    NAMESPACED = True
    COLUMNS = (
        Column("name", "Name", width=18),
        Column("tags", "Tags", width=16, priority=2),
        Column("instances", "Instances", width=9),
        Column("health", "Health", width=9),
        Column("jobs", "Jobs", width=16, priority=1),
    )

    def __init__(self) -> None:
        super().__init__()
        self.services: dict[str, Service] = {}

    def start_watches(self) -> None:
        mine: list[Watch] = []
        mine.append(
            self.watch_api(
                self.SOURCE, lambda c, i: fetch_catalog(c, i, lambda: any(w.stopped for w in mine))
            )
        )

    def fetch(self, client: NomadClient, index: int) -> Response:
        return fetch_catalog(client, index)

    def rows(self, data: Any) -> list[Row]:
        services: list[Service] = list(data or [])
        several = self.all_namespaces or len({s.namespace for s in services}) > 1
        self.services = {service_key(s, several): s for s in services}
        out: list[Row] = []
        for key, s in sorted(self.services.items()):
            out.append(
                (
                    key,
                    (
                        s.name if not several or self.all_namespaces else key,
                        tags_text(s.tags),
                        instances_text(s.regs),
                        health_text(worst_health(s.regs)),
                        ",".join(s.jobs),
                    ),
                )
            )
        return out

    def row_namespaces(self, data: Any) -> dict[str, str]:
        return {key: svc.namespace for key, svc in self.services.items()}

    def open_item(self, key: str) -> None:
        svc = self.services.get(key)
        if svc is not None:
            self.console.open_service(svc.name, svc.namespace)
