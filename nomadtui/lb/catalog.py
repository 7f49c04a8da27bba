"""Catalog watcher: follows the servers' native service catalog with blocking
queries and reports every change as the full list of registrations.

One blocking query on `/v1/services` for the set of routed services, and one
per service on `/v1/service/:name`; a change is reported as soon as the
server answers (no polling interval). Owns no routing: `on_change` does that.
Errors are logged and retried with backoff; the last good state is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from .routes import TAG_PREFIX

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 60.0
_BACKOFF_MIN_S = 0.25
_BACKOFF_MAX_S = 5.0
# A server that answers a blocking query at once with an unchanged index
# (no blocking support) must not turn the watcher into a busy loop.
_SAME_INDEX_PAUSE_S = 0.1

Registrations = list[dict[str, Any]]
OnChange = Callable[[Registrations, int], None]


class CatalogWatcher:
    """Keeps `registrations` in step with the catalog; calls `on_change`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        on_change: OnChange,
        *,
        namespace: str | None = None,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> None:
        self._http = http
        self._on_change = on_change
        self._namespace = namespace
        self._wait_s = wait_s
        self._services: dict[tuple[str, str], Registrations] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.index = 0
        self.changed_at = 0.0  # monotonic time of the last reported change
        self.error = ""  # last error talking to the catalog, "" when fine

    @property
    def registrations(self) -> Registrations:
        return [reg for regs in self._services.values() for reg in regs]

    async def run(self) -> None:
        """Watch until cancelled."""
        try:
            await self._watch_list()
        finally:
            for task in self._tasks.values():
                task.cancel()
            for task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _get(self, path: str, index: int, namespace: str | None) -> tuple[Any, int]:
        params: dict[str, str] = {}
        if namespace:
            params["namespace"] = namespace
        if index:
            params["index"] = str(index)
            params["wait"] = f"{int(self._wait_s * 1000)}ms"
        resp = await self._http.get(path, params=params)
        if resp.status_code == 404:
            return None, int(resp.headers.get("X-Nomad-Index") or 0)
        if resp.status_code >= 400:
            raise httpx.HTTPStatusError(
                f"{resp.status_code} {resp.text.strip()[:200]}", request=resp.request, response=resp
            )
        return resp.json(), int(resp.headers.get("X-Nomad-Index") or 0)

    async def _poll(
        self, path: str, namespace: str | None, what: str, apply: Callable[[Any, int], None]
    ) -> None:
        """The blocking-query loop shared by the list and each service."""
        index, backoff = 0, _BACKOFF_MIN_S
        while True:
            try:
                data, new_index = await self._get(path, index, namespace)
            except (httpx.HTTPError, ValueError) as exc:
                self.error = f"{what}: {exc}"
                log.warning("catalog query failed %s: %s", what, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = _BACKOFF_MIN_S
            self.error = ""
            if new_index < index:
                new_index = 0  # the servers' state was reset (snapshot restore)
            if new_index == index and index:
                await asyncio.sleep(_SAME_INDEX_PAUSE_S)
                continue
            index = new_index
            apply(data, index)

    async def _watch_list(self) -> None:
        await self._poll("/v1/services", self._namespace, "services", self._apply_list)

    def _apply_list(self, data: Any, index: int) -> None:
        wanted: set[tuple[str, str]] = set()
        for group in data or ():
            namespace = str(group.get("Namespace") or "default")
            for svc in group.get("Services") or ():
                if any(str(t).startswith(TAG_PREFIX) for t in svc.get("Tags") or ()):
                    wanted.add((namespace, str(svc.get("ServiceName"))))
        for key in set(self._tasks) - wanted:
            self._tasks.pop(key).cancel()
        gone = [key for key in self._services if key not in wanted]
        for key in gone:
            del self._services[key]
        for key in wanted - set(self._tasks):
            self._tasks[key] = asyncio.create_task(self._watch_service(*key), name=f"lb-{key}")
        if gone:
            self._changed(index)

    async def _watch_service(self, namespace: str, name: str) -> None:
        def apply(data: Any, index: int) -> None:
            regs = [r for r in data or () if str(r.get("Namespace") or namespace) == namespace]
            self._services[(namespace, name)] = regs
            self._changed(index)

        # the namespace the listing named (it differs from ours with `-namespace *`)
        await self._poll(f"/v1/service/{quote(name, safe='')}", namespace, f"service {name}", apply)

    def _changed(self, index: int) -> None:
        self.index = max(self.index, index)
        self.changed_at = time.monotonic()
        self._on_change(self.registrations, self.index)
