"""ACL, namespace and quota endpoints on top of tui_fake_cluster's FakeCluster.

`SecureCluster` is the same fixed cluster with ACLs on (unless told
otherwise): tokens are checked as Nomad checks them (no token -> 403
`Permission denied`, unknown secret -> 403 `ACL token not found`), a
read-only client token may read but every write is refused, and a
management token may do everything. It adds namespaces `default`, `b` and
`c` (jobs `api` and `worker` live in `b`; `b` and `c` share the quota
`team-b`), the quota specs and their usage in Nomad's QuotaUsage shape,
and `/v1/acl/token/self` + `/v1/acl/policy/:name`. Every request is
recorded (`requests`) so tests can check what the console did NOT send.

`secure_console` runs a ConsoleApp on such a cluster as `fake_console`
does (clock frozen, streams patched), with the client's transport handed to
the app so `:ns` and `:token` clients reach the same fake.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from textual.pilot import Pilot
from tui_fake_cluster import (
    ADDRESS,
    FIXTURES,
    JOBS,
    FakeCluster,
    Json,
    _common,
    _group,
    _job,
    _summary,
    _task,
    frozen_clock,
    job_stub,
    patched_streams,
)

from nomadtui.client import NomadClient

MANAGEMENT_SECRET = "5f1c0c9e-mgmt-4a11-9d3e-secret000001"
READER_SECRET = "8d2b7a14-read-4b22-8e4f-secret000002"
READER_ACCESSOR = "a1b2c3d4-0000-4c5d-9e6f-000000000002"
MANAGEMENT_ACCESSOR = "f0e1d2c3-0000-4b5a-8c7d-000000000001"

POLICIES: dict[str, str] = {
    # Nomad's read policy: no read-logs, no alloc-lifecycle, no submit-job
    "readonly": """
namespace "*" {
  policy = "read"
}
node {
  policy = "read"
}
quota {
  policy = "read"
}
""",
}
TOKENS: dict[str, Json] = {
    MANAGEMENT_SECRET: {
        "AccessorID": MANAGEMENT_ACCESSOR,
        "SecretID": MANAGEMENT_SECRET,
        "Name": "Bootstrap Token",
        "Type": "management",
        "Policies": None,
        "Global": True,
    },
    READER_SECRET: {
        "AccessorID": READER_ACCESSOR,
        "SecretID": READER_SECRET,
        "Name": "reader",
        "Type": "client",
        "Policies": ["readonly"],
        "Global": False,
    },
}

NAMESPACES: list[Json] = [
    {
        "Name": "default",
        "Description": "Default shared namespace",
        "Quota": "",
        "Meta": None,
        "CreateIndex": 1,
        "ModifyIndex": 1,
    },
    {
        "Name": "b",
        "Description": "team b's services",
        "Quota": "team-b",
        "Meta": None,
        "CreateIndex": 20,
        "ModifyIndex": 20,
    },
    {
        "Name": "c",
        "Description": "team b's batch jobs",
        "Quota": "team-b",
        "Meta": None,
        "CreateIndex": 21,
        "ModifyIndex": 21,
    },
]
QUOTA_HASH = "NLOoV2WBU8ieJIrYXXx8NRb5C2xU61pVVWRDLEIMxlU="
QUOTAS: list[Json] = [
    {
        "Name": "team-b",
        "Description": "team b's share",
        "Limits": [
            {
                "Region": "global",
                "Hash": QUOTA_HASH,
                "RegionLimit": {"CPU": 2500, "MemoryMB": 2000, "MemoryMaxMB": 0, "DiskMB": 0},
            }
        ],
        "CreateIndex": 19,
        "ModifyIndex": 19,
    },
]
QUOTA_USAGE: dict[str, Json] = {
    "team-b": {
        "Name": "team-b",
        "CreateIndex": 19,
        "ModifyIndex": 1190,
        "Used": {
            QUOTA_HASH: {
                "Region": "global",
                "Hash": QUOTA_HASH,
                "RegionLimit": {"CPU": 1200, "MemoryMB": 512},
            }
        },
    },
}

B_JOBS: dict[str, Json] = {
    j["ID"]: _common({**j, "Namespace": "b"})
    for j in (
        _job(
            "api",
            "service",
            50,
            "running",
            3_600,
            [
                _group("api", 2, [_task("api", "docker", {"image": "b/api:1.4"}, 600, 256)]),
            ],
        ),
        # same ID as a job in `default`: `*` must tell them apart
        _job(
            "web",
            "service",
            50,
            "pending",
            600,
            [
                _group(
                    "frontend", 1, [_task("nginx", "docker", {"image": "nginx:1.27"}, 200, 128)]
                ),
            ],
        ),
    )
}
B_SUMMARIES = {
    "api": {**_summary("api", {"api": {"Running": 2}}), "Namespace": "b"},
    "web": {**_summary("web", {"frontend": {"Queued": 1}}), "Namespace": "b"},
}


def b_job_stub(job: Json) -> Json:
    keys = (
        "ID",
        "Name",
        "Namespace",
        "Type",
        "Priority",
        "Stop",
        "Status",
        "SubmitTime",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
    )
    return {
        **{k: job.get(k) for k in keys},
        "Periodic": False,
        "ParameterizedJob": False,
        "JobSummary": B_SUMMARIES[job["ID"]],
    }


def jobs_in(namespace: str) -> list[Json]:
    default = [job_stub(j) for j in JOBS.values()]
    b = [b_job_stub(j) for j in B_JOBS.values()]
    return {"default": default, "b": b, "*": default + b}.get(namespace, [])


def _forbidden(message: str = "Permission denied") -> httpx.Response:
    return httpx.Response(403, text=message)


class SecureCluster(FakeCluster):
    def __init__(self, acl_enabled: bool = True) -> None:
        super().__init__()
        self.acl_enabled = acl_enabled
        self.requests: list[tuple[str, str, str | None]] = []
        self._req_lock = threading.Lock()
        ours: list[tuple[str, str, Any]] = [
            ("GET", r"/v1/jobs", lambda m, r: jobs_in(_ns(r))),
            ("GET", r"/v1/job/([^/]+)", lambda m, r: B_JOBS[m[1]] if _ns(r) == "b" else JOBS[m[1]]),
            ("GET", r"/v1/namespaces", lambda m, r: NAMESPACES),
            ("GET", r"/v1/quotas", lambda m, r: QUOTAS),
            ("GET", r"/v1/quota/usage/([^/]+)", lambda m, r: QUOTA_USAGE[m[1]]),
            (
                "GET",
                r"/v1/acl/policy/([^/]+)",
                lambda m, r: {"Name": m[1], "Rules": POLICIES[m[1]], "Description": ""},
            ),
            ("GET", r"/v1/acl/token/self", self._token_self),
        ]
        self.routes[:0] = [(method, re.compile(p + "$"), route) for method, p, route in ours]

    def _token_self(self, match: Any, request: httpx.Request) -> Any:
        if not self.acl_enabled:
            return httpx.Response(400, text="ACL support disabled")
        secret = request.headers.get("X-Nomad-Token")
        if not secret:
            return httpx.Response(404, text="ACL token not found")  # anonymous
        return TOKENS[secret]

    def handle(
        self, request: httpx.Request, aborted: threading.Event | None = None
    ) -> httpx.Response:
        secret = request.headers.get("X-Nomad-Token")
        with self._req_lock:
            self.requests.append((request.method, request.url.path, secret))
        path = request.url.path
        if not self.acl_enabled or path.startswith("/v1/status/"):
            return super().handle(request, aborted)
        if secret:
            token = TOKENS.get(secret)
            if token is None:
                return _forbidden("ACL token not found")  # before any handler
            # the read-only token reads everything it has policies for, writes nothing
            if token["Type"] != "management" and request.method != "GET":
                return _forbidden()
        elif not path.startswith("/v1/acl/"):
            return _forbidden()  # anonymous, and no anonymous policy: denied
        return super().handle(request, aborted)

    def writes(self) -> list[tuple[str, str]]:
        with self._req_lock:
            return [(m, p) for m, p, _ in self.requests if m != "GET"]

    def secrets_seen(self) -> set[str | None]:
        with self._req_lock:
            return {s for _, _, s in self.requests}


def _ns(request: httpx.Request) -> str:
    return request.url.params.get("namespace") or "default"


@contextlib.asynccontextmanager
async def secure_console(
    cluster: SecureCluster,
    token: str | None = None,
    namespace: str | None = None,
    size: tuple[int, int] = (100, 30),
) -> AsyncIterator[tuple[Any, Pilot[None]]]:
    """A ConsoleApp on `cluster` as `token`, clock frozen, running headless."""
    from nomadtui.tui.app import ConsoleApp

    transport = cluster.transport
    client = NomadClient(
        address=ADDRESS, token=token, namespace=namespace, transport=transport, env={}
    )
    try:
        with frozen_clock(), patched_streams(cluster), contextlib.chdir(FIXTURES):
            app = ConsoleApp(client, transport=transport)
            app.animation_level = "none"
            async with app.run_test(size=size) as pilot:
                yield app, pilot
    finally:
        cluster.close()
        client.close()


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `cond()` holds (AssertionError after `timeout`)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


def table_keys(app: Any, selector: str = "#table") -> list[str]:
    from nomadtui.tui.widgets.resource_table import ResourceTable

    tables = list(app.screen.query(selector).results(ResourceTable))
    return tables[0].row_keys if tables else []


def bindings(app: Any) -> dict[str, bool]:
    """Action -> enabled, for the keys on the current screen (False = shown dimmed)."""
    return {a.binding.action: a.enabled for a in app.screen.active_bindings.values()}
