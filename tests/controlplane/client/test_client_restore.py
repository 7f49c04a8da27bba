"""A restarted client (same data dir) takes its allocations over from the
local state: it reattaches to running tasks through the driver without new
task events, starts a task again when the driver cannot reattach, and never
runs a finished task twice. Mock driver, in-memory server.

A real client process dies with its threads; here the first agent lives on
in the test process, so the second one gets a copy of the data dir taken at
the "crash" and a driver instance of its own (as a new process would).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controlplane.client.agent import ClientAgent
from controlplane.drivers.base import TaskHandle
from controlplane.drivers.mock import MockDriver
from controlplane.structs import SEC, Allocation, RestartPolicy, TaskState

DEADLINE_S = 10.0
NewAlloc = Callable[..., Allocation]
AgentFactory = Callable[..., ClientAgent]


class UnrecoverableDriver(MockDriver):
    def __init__(self) -> None:
        super().__init__()
        self.recovered: list[TaskHandle] = []

    def recover(self, handle: TaskHandle) -> bool:
        self.recovered.append(handle)
        return False


def types(state: TaskState) -> list[str]:
    return [e.type for e in state.events or []]


def crash_and_restart(
    first: ClientAgent, make_agent: AgentFactory, tmp_path: Path, driver: MockDriver
) -> ClientAgent:
    """Stop `first`'s loops (its tasks keep running), snapshot its data dir,
    and start a new agent on the snapshot with `driver`."""
    first.stop()
    copy = tmp_path / "after-crash"
    shutil.copytree(first.config.data_path, copy)
    return make_agent(drivers={"mock": driver}, data_dir=copy)


def test_local_state_holds_the_alloc_task_states_and_handles(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent.node_id))
    stored = rpc.wait_status(alloc.id, "running")

    local = agent.state_db.allocs()[alloc.id]
    assert local.alloc is not None and local.alloc.id == alloc.id
    assert local.task_states["server"] == stored.task_states["server"]
    assert local.handles["server"] == agent.runner(alloc.id).tasks["server"].handle  # type: ignore[union-attr]


def test_restarted_client_reattaches_without_new_events(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, tmp_path: Path
) -> None:
    first = make_agent()
    alloc = rpc.push_alloc(new_alloc(agent_id := first.node_id))
    before = rpc.wait_status(alloc.id, "running").task_states["server"]
    handle = first.runner(alloc.id).tasks["server"].handle  # type: ignore[union-attr]

    driver = MockDriver()
    second = crash_and_restart(first, make_agent, tmp_path, driver)

    assert second.node_id == agent_id
    runner = second.runner(alloc.id)
    assert runner is not None, "restored before any server answer"
    rpc.wait_for(lambda: runner.tasks["server"].handle == handle)
    assert driver.started == [], "reattached, not started again"
    state = runner.task_states()["server"]
    assert state.state == "running"
    assert state.events == before.events and state.started_at == before.started_at
    # the servers hear the same running alloc from the new process
    rpc.wait_for(lambda: any(u.id == alloc.id for u in rpc.update_calls[-1]))
    assert rpc.allocs[alloc.id].client_status == "running"

    # and the new process still controls the task
    rpc.stop_alloc(alloc.id)
    stored = rpc.wait_status(alloc.id, "complete")
    state = stored.task_states["server"]
    assert types(state)[-3:] == ["Killing", "Terminated", "Killed"]
    assert state.events[-2].signal == 15, "stopped through the recovered handle"
    assert alloc.id not in second.state_db.handles()


def test_task_the_driver_cannot_reattach_to_is_started_again(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, tmp_path: Path
) -> None:
    first = make_agent()
    alloc = rpc.push_alloc(new_alloc(first.node_id))
    rpc.wait_status(alloc.id, "running")

    driver = UnrecoverableDriver()
    second = crash_and_restart(first, make_agent, tmp_path, driver)

    rpc.wait_for(lambda: len(driver.started) == 1)
    runner = second.runner(alloc.id)
    assert runner is not None
    rpc.wait_for(lambda: types(runner.task_states()["server"])[-1] == "Started")
    state = runner.task_states()["server"]
    assert len(driver.recovered) == 1
    assert types(state)[-2:] == ["Failed Restoring Task", "Started"]
    failed = state.events[-2]
    assert failed.display_message == (
        "failed to restore task; will not run until server is contacted"
    )
    assert state.state == "running" and state.restarts == 0
    assert second.state_db.handles()[alloc.id]["server"] == runner.tasks["server"].handle


def test_finished_task_is_not_run_again(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, tmp_path: Path
) -> None:
    first = make_agent()
    alloc = rpc.push_alloc(
        new_alloc(first.node_id, job_type="batch", tasks={"work": {"run_for": 0.01}})
    )
    done = rpc.wait_status(alloc.id, "complete")

    driver = MockDriver()
    second = crash_and_restart(first, make_agent, tmp_path, driver)

    runner = second.runner(alloc.id)
    assert runner is not None and runner.wait(5.0) and runner.done
    assert driver.started == []
    assert runner.task_states()["work"] == done.task_states["work"]


def test_task_that_exits_after_the_crash_meets_its_restart_policy(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, tmp_path: Path
) -> None:
    first = make_agent()
    policy = RestartPolicy(attempts=0, interval=60 * SEC, delay=0, mode="fail")
    alloc = rpc.push_alloc(
        new_alloc(
            first.node_id,
            tasks={"web": {"run_for": 0.5, "exit_code": 3}},
            restart=policy,
        )
    )
    rpc.wait_status(alloc.id, "running")

    driver = MockDriver()
    crash_and_restart(first, make_agent, tmp_path, driver)

    stored = rpc.wait_status(alloc.id, "failed")
    state = stored.task_states["web"]
    assert types(state)[-2:] == ["Terminated", "Not Restarting"]
    assert state.events[-2].exit_code == 3
    assert types(state).count("Started") == 1
    assert driver.started == []


def test_unrestorable_task_of_an_alloc_stopped_meanwhile_never_starts(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, tmp_path: Path
) -> None:
    """Nomad's #1795: a task that cannot be reattached waits for the servers,
    which may have stopped its allocation while the client was down."""
    first = make_agent()
    alloc = rpc.push_alloc(new_alloc(first.node_id))
    rpc.wait_status(alloc.id, "running")
    first.stop()
    rpc.stop_alloc(alloc.id)  # while no client watches

    answered = threading.Event()
    real_get_allocs = rpc.get_allocs

    def held_get_allocs(*args: Any) -> Any:
        answered.wait(DEADLINE_S)
        return real_get_allocs(*args)

    rpc.get_allocs = held_get_allocs
    driver = UnrecoverableDriver()
    second = crash_and_restart(first, make_agent, tmp_path, driver)
    runner = second.runner(alloc.id)
    assert runner is not None
    rpc.wait_for(lambda: "Failed Restoring Task" in types(runner.task_states()["server"]))
    answered.set()

    assert runner.wait(DEADLINE_S)
    state = runner.task_states()["server"]
    assert types(state)[-2:] == ["Failed Restoring Task", "Killed"]
    assert driver.started == []


def test_kill_interrupted_by_the_crash_is_finished_after_restore(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc, tmp_path: Path
) -> None:
    """The local state already says stop: the new process finishes the kill
    on its own, before the servers answer."""
    first = make_agent()
    alloc = rpc.push_alloc(
        new_alloc(first.node_id, task_fields={"server": {"shutdown_delay": 1 * SEC}})
    )
    rpc.wait_status(alloc.id, "running")
    rpc.stop_alloc(alloc.id)
    rpc.wait_for(
        lambda: "Waiting for shutdown delay" in types(rpc.allocs[alloc.id].task_states["server"])
    )

    answered = threading.Event()
    real_get_allocs = rpc.get_allocs

    def held_get_allocs(*args: Any) -> Any:
        answered.wait(DEADLINE_S)
        return real_get_allocs(*args)

    rpc.get_allocs = held_get_allocs
    try:
        second = crash_and_restart(first, make_agent, tmp_path, MockDriver())
        runner = second.runner(alloc.id)
        assert runner is not None and runner.wait(DEADLINE_S)
    finally:
        answered.set()
    assert types(runner.task_states()["server"])[-2:] == ["Terminated", "Killed"]
    assert rpc.wait_status(alloc.id, "complete")
