"""Client agent end to end against an in-memory server and the mock driver:
registration, alloc lifecycle, restarts, kills and status reporting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.client.agent import ClientAgent
from controlplane.drivers.base import Fingerprint
from controlplane.drivers.mock import MockDriver
from controlplane.structs import (
    SEC,
    AllocatedPortMapping,
    Allocation,
    LogConfig,
    RestartPolicy,
    TaskState,
)

NewAlloc = Callable[..., Allocation]
AgentFactory = Callable[..., ClientAgent]


def types(state: TaskState | None) -> list[str]:
    return [e.type for e in (state.events or [])] if state is not None else []


def test_registers_with_retry_and_heartbeats_ready(rpc: Any, make_agent: AgentFactory) -> None:
    rpc.fail_registrations = 2
    agent = make_agent()

    node = rpc.nodes[agent.node_id]
    assert rpc.register_calls >= 3
    assert node.name == "test-node"
    assert node.drivers["mock"].detected and node.drivers["mock"].healthy
    assert node.attributes["driver.mock"] == "1"
    rpc.wait_for(lambda: (agent.node_id, "ready") in rpc.heartbeats)
    assert rpc.nodes[agent.node_id].status == "ready"


def test_placed_alloc_runs_and_reports_running(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))

    stored = rpc.wait_status(alloc.id, "running")

    assert stored.client_description == "Tasks are running"
    state = stored.task_states["server"]
    assert state.state == "running"
    assert state.started_at is not None and state.started_at.endswith("Z")
    assert types(state) == ["Received", "Task Setup", "Started"]
    assert state.events[1].message == "Building Task Directory"
    # the alloc dir layout exists
    root = agent.alloc_dir(alloc.id)
    for sub in ("alloc/logs", "alloc/data", "alloc/tmp", "server/local", "server/secrets"):
        assert (root / sub).is_dir(), sub


def test_batch_task_exit_zero_completes(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, job_type="batch", tasks={"work": {"run_for": 0.05}})
    )

    stored = rpc.wait_status(alloc.id, "complete")

    assert stored.client_description == "All tasks have completed"
    state = stored.task_states["work"]
    assert state.state == "dead" and not state.failed
    assert state.finished_at is not None
    assert types(state)[-2:] == ["Started", "Terminated"]
    assert state.events[-1].exit_code == 0
    assert state.events[-1].display_message == "Exit Code: 0"


def test_failing_task_restarts_then_fails(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    policy = RestartPolicy(attempts=1, interval=60 * SEC, delay=0, mode="fail")
    alloc = rpc.push_alloc(
        new_alloc(
            agent.node_id,
            job_type="batch",
            tasks={"work": {"run_for": 0.02, "exit_code": 3}},
            restart=policy,
        )
    )

    stored = rpc.wait_status(alloc.id, "failed")

    assert stored.client_description == "Failed tasks"
    state = stored.task_states["work"]
    assert state.state == "dead" and state.failed
    assert state.restarts == 1
    assert state.last_restart is not None
    evs = types(state)
    assert evs.count("Started") == 2
    assert evs.index("Restarting") < evs.index("Not Restarting")
    last = state.events[-1]
    assert last.fails_task
    assert last.restart_reason == 'Exceeded allowed attempts 1 in interval 1m0s and mode is "fail"'
    terminated = [e for e in state.events if e.type == "Terminated"]
    assert all(e.exit_code == 3 for e in terminated)


def test_service_task_restarts_after_success(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    policy = RestartPolicy(attempts=2, interval=60 * SEC, delay=0, mode="fail")
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, tasks={"web": {"run_for": 0.02}}, restart=policy)
    )

    stored = rpc.wait_status(alloc.id, "failed")

    assert stored.task_states["web"].restarts == 2


def test_desired_stop_kills_task(rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))
    rpc.wait_status(alloc.id, "running")

    rpc.stop_alloc(alloc.id)
    stored = rpc.wait_status(alloc.id, "complete")

    state = stored.task_states["server"]
    assert state.state == "dead" and not state.failed
    evs = types(state)
    assert evs[-3:] == ["Killing", "Terminated", "Killed"]
    assert state.events[-3].kill_timeout == 2 * SEC
    assert state.events[-1].message == "Task successfully killed"
    runner = agent.runner(alloc.id)
    assert runner is not None and runner.wait(5.0) and runner.done


def test_alloc_dropped_by_server_is_killed(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))
    rpc.wait_status(alloc.id, "running")

    rpc.remove_alloc(alloc.id)

    runner = agent.runner(alloc.id)
    assert runner is not None and runner.wait(5.0)
    assert types(runner.task_states()["server"])[-1] == "Killed"


def test_kill_during_restart_delay_is_prompt(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    policy = RestartPolicy(attempts=2, interval=60 * SEC, delay=15 * SEC, mode="fail")
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, tasks={"web": {"run_for": 0.02, "exit_code": 1}}, restart=policy)
    )

    def restarting() -> bool:
        states = rpc.allocs[alloc.id].task_states or {}
        return "Restarting" in types(states.get("web"))

    rpc.wait_for(restarting)
    rpc.stop_alloc(alloc.id)

    # the 15 s delay (plus jitter) is cut short by the kill
    stored = rpc.wait_status(alloc.id, "complete", timeout=2.0)
    state = stored.task_states["web"]
    assert types(state)[-2:] == ["Restarting", "Killed"]
    assert not state.failed


def test_unrecoverable_driver_error_fails_without_restart(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    policy = RestartPolicy(attempts=3, interval=60 * SEC, delay=0, mode="fail")
    cfg = {"start_error": "image not found", "start_error_recoverable": False}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks={"t": cfg}, restart=policy))

    stored = rpc.wait_status(alloc.id, "failed")

    state = stored.task_states["t"]
    assert types(state) == ["Received", "Task Setup", "Driver Failure", "Not Restarting"]
    assert state.events[2].driver_error == "image not found"
    assert state.events[3].restart_reason == "Error was unrecoverable"
    assert state.restarts == 0


def test_recoverable_driver_error_counts_against_policy(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    policy = RestartPolicy(attempts=1, interval=60 * SEC, delay=0, mode="fail")
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, tasks={"t": {"start_error": "boom"}}, restart=policy)
    )

    stored = rpc.wait_status(alloc.id, "failed")

    evs = types(stored.task_states["t"])
    assert evs.count("Driver Failure") == 2
    assert "Restarting" in evs and evs[-1] == "Not Restarting"


def test_missing_driver_fails_task(rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id, driver="nope"))

    stored = rpc.wait_status(alloc.id, "failed")

    last = stored.task_states["server"].events[-1]
    assert last.type == "Driver Failure" and last.fails_task
    assert '"nope"' in last.driver_error


def test_failed_task_kills_its_siblings(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {"main": {"run_for": 60}, "bad": {"run_for": 0.05, "exit_code": 1}}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks=tasks))

    stored = rpc.wait_status(alloc.id, "failed")
    rpc.wait_for(lambda: rpc.allocs[alloc.id].task_states["main"].state == "dead")

    main = rpc.allocs[alloc.id].task_states["main"]
    assert not main.failed
    evs = types(main)
    assert "Sibling Task Failed" in evs and evs[-1] == "Killed"
    assert stored.task_states["bad"].failed


def test_task_config_is_interpolated_and_env_set(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    mock = MockDriver()
    agent = make_agent(drivers={"mock": mock}, meta={"rack": "r1"})
    ports = [AllocatedPortMapping(label="http", value=23456, to=8080, host_ip="127.0.0.1")]
    cfg = {
        "run_for": 60,
        "args": ["--port=${NOMAD_PORT_http}", "${attr.kernel.name}", "${meta.rack}"],
    }
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks={"app": cfg}, ports=ports))
    rpc.wait_status(alloc.id, "running")

    (started,) = mock.started
    assert started.config["args"] == ["--port=8080", "linux", "r1"]
    assert started.env["NOMAD_ALLOC_ID"] == alloc.id
    assert started.env["NOMAD_HOST_PORT_http"] == "23456"
    assert started.env["NOMAD_ADDR_http"] == "127.0.0.1:23456"
    assert started.env["NOMAD_ALLOC_NAME"] == "example.web[0]"
    assert started.stdout_path == str(agent.task_log_path(alloc.id, "app", "stdout"))
    assert started.stdout_path.endswith("/alloc/logs/app.stdout.0")
    assert started.ports == ports


def test_mock_stdout_lands_in_task_log(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    cfg = {"run_for": 0.01, "stdout_string": "hello\n"}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, job_type="batch", tasks={"t": cfg}))
    rpc.wait_status(alloc.id, "complete")

    assert agent.task_log_path(alloc.id, "t", "stdout").read_text() == "hello\n"


def test_handles_persisted_while_running(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))
    rpc.wait_status(alloc.id, "running")

    handles = agent.state_db.handles()
    assert handles[alloc.id]["server"].driver == "mock"
    assert (agent.config.client_dir / "allocs" / f"{alloc.id}.json").is_file()

    rpc.stop_alloc(alloc.id)
    rpc.wait_status(alloc.id, "complete")
    assert alloc.id not in agent.state_db.handles()


def test_shutdown_kills_tasks_and_reports(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))
    rpc.wait_status(alloc.id, "running")

    agent.shutdown(kill_tasks=True, timeout=10.0)

    stored = rpc.allocs[alloc.id]
    assert stored.client_status == "complete"
    assert types(stored.task_states["server"])[-1] == "Killed"


def test_stop_leaves_tasks_running(rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))
    rpc.wait_status(alloc.id, "running")

    agent.stop(timeout=5.0)

    runner = agent.runner(alloc.id)
    assert runner is not None and not runner.done
    assert runner.task_states()["server"].state == "running"


def test_status_updates_retried_after_failure(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    rpc.fail_updates = 2
    alloc = rpc.push_alloc(new_alloc(agent.node_id))

    rpc.wait_status(alloc.id, "running")

    # each call carries at most one (the newest) update per alloc
    for call in rpc.update_calls:
        ids = [u.id for u in call]
        assert len(ids) == len(set(ids))


def test_node_id_survives_agent_restart(rpc: Any, make_agent: AgentFactory) -> None:
    first = make_agent()
    first.shutdown()
    second = make_agent()

    assert second.node_id == first.node_id


def test_task_config_carries_the_logs_block(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    mock = MockDriver()
    agent = make_agent(drivers={"mock": mock})
    logs = {"log_config": LogConfig(max_files=3, max_file_size_mb=2)}
    tasks = {"logged": {"run_for": 60}, "plain": {"run_for": 60}}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks=tasks, task_fields={"logged": logs}))
    rpc.wait_status(alloc.id, "running")
    rpc.wait_for(lambda: len(mock.started) == 2)

    started = {cfg.task_name: cfg for cfg in mock.started}
    assert (started["logged"].logs_max_files, started["logged"].logs_max_file_size_mb) == (3, 2)
    # no `logs` block: Nomad's defaults, 10 files of 10 MB
    assert (started["plain"].logs_max_files, started["plain"].logs_max_file_size_mb) == (10, 10)


def test_driver_health_change_registers_the_node_again(
    rpc: Any, make_agent: AgentFactory
) -> None:
    mock = MockDriver()
    agent = make_agent(drivers={"mock": mock}, driver_refresh_s=0.05)
    assert rpc.nodes[agent.node_id].drivers["mock"].healthy
    mock.fingerprint = lambda: Fingerprint(  # type: ignore[method-assign]
        detected=True, healthy=False, health_description="engine gone"
    )
    rpc.wait_for(lambda: not rpc.nodes[agent.node_id].drivers["mock"].healthy)
    node = rpc.nodes[agent.node_id]
    assert node.drivers["mock"].health_description == "engine gone"
