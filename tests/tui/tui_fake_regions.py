"""Regions on top of tui_fake_cluster's FakeCluster: `/v1/regions` lists
`a` and `b`, and `?region=b` sees a job list of its own (one job, `only-in-b`),
as a server of `a` forwarding to `b` would answer. Every request's region is
recorded (`regions_asked`) so tests can check what the console sent.

`regional_console` runs a ConsoleApp on such a cluster as `fake_console`
does, with the client's transport handed to the app so the clients that
`:region` derives reach the same fake.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
from textual.pilot import Pilot
from tui_fake_cluster import (
    ADDRESS,
    FIXTURES,
    JOBS,
    FakeCluster,
    Json,
    frozen_clock,
    job_stub,
    patched_streams,
)

from nomadtui.client import NomadClient

REGIONS = ["b", "a"]  # unsorted on purpose: the picker sorts
B_JOB: Json = {"ID": "only-in-b", "Name": "only-in-b", "Region": "b"}


class RegionalCluster(FakeCluster):
    def __init__(self) -> None:
        super().__init__()
        self.regions_asked: list[str | None] = []
        self._asked_lock = threading.Lock()
        ours: list[tuple[str, str, Any]] = [
            ("GET", r"/v1/regions", lambda m, r: REGIONS),
            ("GET", r"/v1/jobs", self._jobs),
        ]
        self.routes[:0] = [(method, re.compile(p + "$"), route) for method, p, route in ours]

    def _jobs(self, match: Any, request: httpx.Request) -> Any:
        if request.url.params.get("region") == "b":
            first = next(iter(JOBS.values()))
            return [{**job_stub(first), "ID": B_JOB["ID"], "Name": B_JOB["Name"]}]
        return [job_stub(j) for j in JOBS.values()]

    def handle(
        self, request: httpx.Request, aborted: threading.Event | None = None
    ) -> httpx.Response:
        with self._asked_lock:
            self.regions_asked.append(request.url.params.get("region"))
        return super().handle(request, aborted)


@contextlib.asynccontextmanager
async def regional_console(
    cluster: RegionalCluster, size: tuple[int, int] = (100, 30)
) -> AsyncIterator[tuple[Any, Pilot[None]]]:
    """A ConsoleApp on `cluster`, clock frozen, running headless."""
    from nomadtui.tui.app import ConsoleApp

    transport = cluster.transport
    client = NomadClient(address=ADDRESS, transport=transport, env={})
    try:
        with frozen_clock(), patched_streams(cluster), contextlib.chdir(FIXTURES):
            app = ConsoleApp(client, transport=transport)
            app.animation_level = "none"
            async with app.run_test(size=size) as pilot:
                yield app, pilot
    finally:
        cluster.close()
        client.close()
