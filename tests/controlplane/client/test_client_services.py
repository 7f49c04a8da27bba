"""Service registration through the client agent with the fake servers: what
is registered (id, interpolated name, address, port, tags), health from real
HTTP checks, deduplicated writes, retries, deregistration before the
shutdown delay, check_restart, and deployment health in mode `checks`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from controlplane.client.agent import ClientAgent
from controlplane.structs import (
    SEC,
    AllocatedPortMapping,
    Allocation,
    CheckRestart,
    Service,
    ServiceCheck,
    UpdateStrategy,
    registration_id,
)
from tests.waiting import wait_for

NewAlloc = Callable[..., Allocation]
AgentFactory = Callable[..., ClientAgent]


class _Web:
    """A real HTTP server whose answer code a test flips."""

    def __init__(self) -> None:
        self.code = 200
        self.hits = 0
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                web.hits += 1
                self.send_response(web.code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def web() -> Iterator[_Web]:
    w = _Web()
    yield w
    w.close()


def _http_check(**kw: Any) -> ServiceCheck:
    fields: dict[str, Any] = {
        "type": "http",
        "path": "/",
        "interval": int(0.05 * SEC),
        "timeout": int(1 * SEC),
    }
    fields.update(kw)
    return ServiceCheck(**fields)


def _alloc(new_alloc: NewAlloc, node_id: str, port: int, **kw: Any) -> Allocation:
    return new_alloc(
        node_id,
        ports=[AllocatedPortMapping(label="http", value=port, to=8080, host_ip="127.0.0.1")],
        **kw,
    )


def test_registers_group_and_task_services_with_health(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, web: _Web
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(
        _alloc(
            new_alloc,
            agent.node_id,
            web.port,
            group_fields={
                "services": [
                    Service(
                        name="${NOMAD_JOB_NAME}-web",
                        port_label="http",
                        tags=["urlprefix-/", "g-${NOMAD_GROUP_NAME}"],
                        provider="nomad",
                        checks=[_http_check()],
                    )
                ]
            },
            task_fields={"server": {"services": [Service(port_label="9999", provider="nomad")]}},
        )
    )
    gid = registration_id(alloc.id, "", "web", "example-web", "http")
    tid = registration_id(alloc.id, "server", "web", "example-web-server", "9999")
    rpc.wait_for(lambda: gid in rpc.services and rpc.services[gid].health == "passing")
    rpc.wait_for(lambda: tid in rpc.services)
    group = rpc.services[gid]
    assert group.id == f"_nomad-task-{alloc.id}-group-web-example-web-http"
    assert (group.service_name, group.address, group.port) == ("example-web", "127.0.0.1", web.port)
    assert group.tags == ["urlprefix-/", "g-web"]
    assert (group.job_id, group.alloc_id, group.node_id) == ("example", alloc.id, agent.node_id)
    assert [c.status for c in group.checks] == ["passing"]
    assert group.checks[0].name == 'service: "example-web" check'
    task = rpc.services[tid]
    assert (task.port, task.health, task.checks) == (9999, "", [])

    # health transitions are written, check runs are not
    hits = web.hits
    wait_for(lambda: web.hits >= hits + 10, 10.0, "check runs")
    with rpc.cond:
        writes = [c for c in rpc.service_calls if any(r.id == gid for r in c[0])]
    assert len(writes) <= 2  # pending/critical at registration, then passing

    web.code = 500
    rpc.wait_for(lambda: rpc.services[gid].health == "critical")
    assert "500" in rpc.services[gid].checks[0].output
    web.code = 200
    rpc.wait_for(lambda: rpc.services[gid].health == "passing")


def test_registration_retries_when_servers_fail(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, web: _Web
) -> None:
    rpc.fail_services = 2
    agent = make_agent()
    alloc = rpc.push_alloc(
        _alloc(
            new_alloc,
            agent.node_id,
            web.port,
            group_fields={"services": [Service(name="svc", port_label="http")]},
        )
    )
    rid = registration_id(alloc.id, "", "web", "svc", "http")
    rpc.wait_for(lambda: rid in rpc.services)
    assert rpc.fail_services == 0


def test_deregisters_before_shutdown_delay(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, web: _Web
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(
        _alloc(
            new_alloc,
            agent.node_id,
            web.port,
            group_fields={
                "shutdown_delay": int(0.5 * SEC),
                "services": [Service(name="grp", port_label="http")],
            },
            task_fields={
                "server": {
                    "shutdown_delay": int(0.5 * SEC),
                    "services": [Service(name="tsk", port_label="http")],
                }
            },
        )
    )
    rpc.wait_status(alloc.id, "running")
    rpc.wait_for(lambda: len(rpc.services) == 2)
    runner = agent.runner(alloc.id)
    assert runner is not None
    # what the task had been through when each service was deregistered
    seen: dict[str, list[str]] = {}

    def record(upserts: list[Any], deletes: list[str]) -> None:
        for rid in deletes:
            seen[rid] = [e.type for e in runner.tasks["server"].state.events]

    rpc.on_services = record
    rpc.stop_alloc(alloc.id)
    rpc.wait_status(alloc.id, "complete")
    gid = registration_id(alloc.id, "", "web", "grp", "http")
    tid = registration_id(alloc.id, "server", "web", "tsk", "http")
    assert not rpc.services
    # group services before the group's delay (the task not even told yet)
    assert "Killing" not in seen[gid]
    # task services when the kill starts, before the task's own delay
    assert seen[tid][-1] == "Killing"
    events = [e.type for e in runner.tasks["server"].state.events]
    assert events.index("Waiting for shutdown delay") < events.index("Killed")


def test_check_restart_restarts_unhealthy_task(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, web: _Web
) -> None:
    agent = make_agent()
    check = ServiceCheck(
        name="alive",
        type="script",
        command="sh",
        args=["-c", "exit 2"],
        interval=int(0.05 * SEC),
        timeout=int(1 * SEC),
        check_restart=CheckRestart(limit=2, grace=0),
    )
    alloc = rpc.push_alloc(
        _alloc(
            new_alloc,
            agent.node_id,
            web.port,
            task_fields={"server": {"services": [Service(name="s", checks=[check])]}},
        )
    )

    def restarted() -> bool:
        st = (rpc.allocs[alloc.id].task_states or {}).get("server")
        return st is not None and st.restarts >= 1

    rpc.wait_for(restarted)
    events = rpc.allocs[alloc.id].task_states["server"].events
    signaled = [e for e in events if e.type == "Restart Signaled"]
    assert signaled[0].restart_reason == 'healthcheck: check "alive" unhealthy'


def test_deployment_waits_for_passing_checks(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, web: _Web
) -> None:
    web.code = 500
    agent = make_agent()
    update = UpdateStrategy(
        max_parallel=1,
        health_check="checks",
        min_healthy_time=int(0.1 * SEC),
        healthy_deadline=int(30 * SEC),
    )
    alloc = _alloc(
        new_alloc,
        agent.node_id,
        web.port,
        update=update,
        group_fields={"services": [Service(name="d", port_label="http", checks=[_http_check()])]},
    ).replace(deployment_id="d1")
    alloc = rpc.push_alloc(alloc)
    rpc.wait_status(alloc.id, "running")
    # many check runs, well past min_healthy_time, all failing: no verdict
    wait_for(lambda: web.hits >= 10, 10.0, "check runs")
    assert all(u.deployment_status is None for u in rpc.updates_for(alloc.id))
    web.code = 200
    rpc.wait_for(lambda: rpc.allocs[alloc.id].deployment_status is not None)
    assert rpc.allocs[alloc.id].deployment_status.healthy is True
