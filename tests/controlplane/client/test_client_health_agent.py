"""Deployment health through the client agent: verdicts reach the (fake)
servers once per deployment, as `deployment_status` on an alloc update,
with the servers' canary flag handed back."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controlplane.client.agent import ClientAgent
from controlplane.drivers.raw_exec import RawExecDriver
from controlplane.structs import (
    SEC,
    Allocation,
    AllocDeploymentStatus,
    RestartPolicy,
    UpdateStrategy,
)

NewAlloc = Callable[..., Allocation]
AgentFactory = Callable[..., ClientAgent]

RFC3339_NANOS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def deploy_alloc(
    new_alloc: NewAlloc,
    node_id: str,
    *,
    health_check: str = "task_states",
    min_s: float = 0.3,
    deadline_s: float = 10.0,
    deployment_id: str = "d1",
    canary: bool | None = None,
    **kw: Any,
) -> Allocation:
    update = UpdateStrategy(
        max_parallel=1,
        health_check=health_check,
        min_healthy_time=int(min_s * SEC),
        healthy_deadline=int(deadline_s * SEC),
    )
    alloc = new_alloc(node_id, update=update, **kw)
    status = None if canary is None else AllocDeploymentStatus(canary=canary)
    return alloc.replace(deployment_id=deployment_id, deployment_status=status)


def verdicts(rpc: Any, alloc_id: str) -> list[AllocDeploymentStatus]:
    """Every deployment_status the client sent for the alloc, in order."""
    return [u.deployment_status for u in rpc.updates_for(alloc_id) if u.deployment_status]


def wait_verdicts(rpc: Any, alloc_id: str, count: int = 1) -> list[AllocDeploymentStatus]:
    rpc.wait_for(lambda: len(verdicts(rpc, alloc_id)) >= count)
    return verdicts(rpc, alloc_id)


def wall(ts: str | None) -> float:
    """RFC3339 with nanoseconds -> unix seconds (microsecond precision)."""
    assert ts is not None and RFC3339_NANOS.match(ts), ts
    dt = datetime.strptime(ts[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return dt.timestamp()


def test_healthy_after_min_healthy_time_reported_once_keeping_canary(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(deploy_alloc(new_alloc, agent.node_id, min_s=0.3, canary=True))

    (verdict,) = wait_verdicts(rpc, alloc.id)

    assert verdict.healthy is True
    assert verdict.canary is True
    stored = rpc.allocs[alloc.id]
    assert stored.deployment_status == verdict
    started = wall(stored.task_states["server"].started_at)
    assert wall(verdict.timestamp) - started >= 0.3 - 0.005
    runner = agent.runner(alloc.id)
    assert runner is not None and runner.deployment_status == verdict

    # stopping it afterwards sends no second verdict
    rpc.stop_alloc(alloc.id)
    rpc.wait_status(alloc.id, "complete")
    assert runner.wait(5.0)
    assert verdicts(rpc, alloc.id) == [verdict]
    assert rpc.allocs[alloc.id].deployment_status == verdict


def test_restart_before_min_healthy_time_is_unhealthy_once(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    policy = RestartPolicy(attempts=2, interval=60 * SEC, delay=0, mode="fail")
    alloc = rpc.push_alloc(
        deploy_alloc(
            new_alloc,
            agent.node_id,
            min_s=5.0,
            tasks={"web": {"run_for": 0.05, "exit_code": 1}},
            restart=policy,
        )
    )

    (verdict,) = wait_verdicts(rpc, alloc.id)
    assert verdict.healthy is False
    assert verdict.canary is False  # the alloc had no deployment status

    # it goes on restarting and fails for good: still the one verdict
    stored = rpc.wait_status(alloc.id, "failed")
    assert stored.task_states["web"].restarts == 2
    assert verdicts(rpc, alloc.id) == [verdict]
    assert wall(verdict.timestamp) - wall(stored.task_states["web"].started_at) < 5.0


def test_healthy_deadline_passing_is_unhealthy(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    pushed_at = time.time()
    alloc = rpc.push_alloc(deploy_alloc(new_alloc, agent.node_id, min_s=5.0, deadline_s=0.3))

    (verdict,) = wait_verdicts(rpc, alloc.id)

    assert verdict.healthy is False
    decided = wall(verdict.timestamp)
    assert pushed_at + 0.3 <= decided < pushed_at + 5.0
    assert rpc.allocs[alloc.id].task_states["server"].state == "running"


def test_manual_or_no_deployment_reports_nothing(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    manual = rpc.push_alloc(
        deploy_alloc(new_alloc, agent.node_id, health_check="manual", min_s=0, index=0)
    )
    no_deploy = rpc.push_alloc(
        deploy_alloc(new_alloc, agent.node_id, min_s=0, deployment_id="", index=1)
    )
    rpc.wait_status(manual.id, "running")
    rpc.wait_status(no_deploy.id, "running")
    # a tracked alloc started later: once its verdict is in, theirs would be
    control = rpc.push_alloc(deploy_alloc(new_alloc, agent.node_id, min_s=0.2, index=2))

    (verdict,) = wait_verdicts(rpc, control.id)

    assert verdict.healthy is True
    assert verdicts(rpc, manual.id) == []
    assert verdicts(rpc, no_deploy.id) == []
    assert rpc.allocs[manual.id].deployment_status is None


def test_in_place_update_into_new_deployment_is_tracked_again(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(deploy_alloc(new_alloc, agent.node_id, min_s=0.2))
    (first,) = wait_verdicts(rpc, alloc.id)
    assert first.healthy is True

    # version 2 in place: the tasks keep running. The servers' copy may still
    # carry the old deployment's verdict; it must not count for the new one.
    current = rpc.allocs[alloc.id]
    assert current.job is not None
    moved = rpc.push_alloc(current.replace(deployment_id="d2", job=current.job.replace(version=1)))
    assert moved.deployment_status == first

    verdicts_now = wait_verdicts(rpc, alloc.id, count=2)

    assert len(verdicts_now) == 2
    second = verdicts_now[1]
    assert second.healthy is True
    assert wall(second.timestamp) - wall(first.timestamp) >= 0.2 - 0.005
    state = rpc.allocs[alloc.id].task_states["server"]
    assert [e.type for e in state.events or []].count("Started") == 1


def test_stopped_before_a_decision_reports_nothing(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(deploy_alloc(new_alloc, agent.node_id, min_s=30.0))
    rpc.wait_status(alloc.id, "running")

    rpc.stop_alloc(alloc.id)
    rpc.wait_status(alloc.id, "complete")

    runner = agent.runner(alloc.id)
    assert runner is not None and runner.wait(5.0)
    assert verdicts(rpc, alloc.id) == []
    assert runner.deployment_status is None


def test_agent_shutdown_before_a_decision_reports_nothing(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(deploy_alloc(new_alloc, agent.node_id, min_s=30.0))
    rpc.wait_status(alloc.id, "running")

    agent.shutdown(kill_tasks=True, timeout=10.0)

    # the shutdown flushed the kill to the servers, without a verdict
    assert rpc.allocs[alloc.id].client_status == "complete"
    assert verdicts(rpc, alloc.id) == []


def test_raw_exec_process_becomes_healthy(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent(drivers={"raw_exec": RawExecDriver()})
    script = {"command": "/bin/sh", "args": ["-c", "exec sleep 30"]}
    alloc = rpc.push_alloc(
        deploy_alloc(
            new_alloc,
            agent.node_id,
            health_check="checks",  # no services yet: same as task_states
            min_s=0.3,
            canary=False,
            driver="raw_exec",
            tasks={"svc": script},
        )
    )

    (verdict,) = wait_verdicts(rpc, alloc.id)

    assert verdict.healthy is True and verdict.canary is False
    stored = rpc.allocs[alloc.id]
    assert stored.task_states["svc"].restarts == 0
    assert wall(verdict.timestamp) - wall(stored.task_states["svc"].started_at) >= 0.3 - 0.005


def test_raw_exec_crashing_process_is_unhealthy(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent(drivers={"raw_exec": RawExecDriver()})
    policy = RestartPolicy(attempts=1, interval=60 * SEC, delay=0, mode="fail")
    alloc = rpc.push_alloc(
        deploy_alloc(
            new_alloc,
            agent.node_id,
            min_s=5.0,
            canary=True,
            driver="raw_exec",
            tasks={"svc": {"command": "/bin/sh", "args": ["-c", "exit 2"]}},
            restart=policy,
        )
    )

    (verdict,) = wait_verdicts(rpc, alloc.id)

    assert verdict.healthy is False and verdict.canary is True
    rpc.wait_status(alloc.id, "failed")
    assert verdicts(rpc, alloc.id) == [verdict]
