"""Lifecycle order of an allocation's tasks (prestart, sidecars, poststart,
poststop, leader) and how they are killed (order, shutdown_delay), with the
mock driver against the in-memory server; the coordinator state machine alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controlplane.client.agent import ClientAgent
from controlplane.client.task_coordinator import (
    OPEN,
    Phase,
    Stage,
    TaskCoordinator,
    next_phase,
    task_stage,
)
from controlplane.structs import (
    SEC,
    Allocation,
    DesiredTransition,
    Task,
    TaskLifecycle,
    TaskState,
)

NewAlloc = Callable[..., Allocation]
AgentFactory = Callable[..., ClientAgent]

PRESTART = {"lifecycle": TaskLifecycle(hook="prestart")}
PRESTART_SIDECAR = {"lifecycle": TaskLifecycle(hook="prestart", sidecar=True)}
POSTSTART = {"lifecycle": TaskLifecycle(hook="poststart")}
POSTSTART_SIDECAR = {"lifecycle": TaskLifecycle(hook="poststart", sidecar=True)}
POSTSTOP = {"lifecycle": TaskLifecycle(hook="poststop")}


def types(state: TaskState) -> list[str]:
    return [e.type for e in state.events or []]


def at(state: TaskState, event_type: str) -> int:
    """Time (unix ns) of the first `event_type` event of a task."""
    return next(e.time for e in state.events or [] if e.type == event_type)


def running(rpc: Any, alloc_id: str, *names: str) -> bool:
    """Whether the server heard that every one of `names` is running."""
    states = rpc.allocs[alloc_id].task_states or {}
    return all(n in states and states[n].state == "running" for n in names)


def final_states(rpc: Any, alloc_id: str, status: str) -> dict[str, TaskState]:
    """Task states once the alloc reached `status` and every task is dead."""
    rpc.wait_status(alloc_id, status)
    rpc.wait_for(lambda: all(t.state == "dead" for t in rpc.allocs[alloc_id].task_states.values()))
    return dict(rpc.allocs[alloc_id].task_states)


# ---- the coordinator alone ------------------------------------------------


def st(state: str, failed: bool = False) -> TaskState:
    return TaskState(state=state, failed=failed)


def test_stages_from_lifecycle_blocks() -> None:
    assert task_stage(Task(name="m")) is Stage.MAIN
    assert task_stage(Task(name="p", **PRESTART)) is Stage.PRESTART_EPHEMERAL
    assert task_stage(Task(name="s", **PRESTART_SIDECAR)) is Stage.PRESTART_SIDECAR
    assert task_stage(Task(name="q", **POSTSTART)) is Stage.POSTSTART_EPHEMERAL
    assert task_stage(Task(name="r", **POSTSTART_SIDECAR)) is Stage.POSTSTART_SIDECAR
    assert task_stage(Task(name="z", **POSTSTOP)) is Stage.POSTSTOP


def test_phases_follow_the_task_states() -> None:
    by_stage = {
        Stage.PRESTART_EPHEMERAL: ["init"],
        Stage.PRESTART_SIDECAR: ["proxy"],
        Stage.MAIN: ["web"],
        Stage.POSTSTART_EPHEMERAL: ["warm"],
        Stage.POSTSTOP: ["cleanup"],
    }
    pending = {n: st("pending") for names in by_stage.values() for n in names}

    def step(phase: Phase, **states: TaskState) -> Phase:
        return next_phase(phase, by_stage, {**pending, **states})

    assert step(Phase.INIT) is Phase.PRESTART
    # the sidecar is up but the ephemeral prestart task has not finished
    assert step(Phase.PRESTART, proxy=st("running"), init=st("running")) is Phase.PRESTART
    # a failed prestart task never lets the main tasks start
    failed = step(Phase.PRESTART, proxy=st("running"), init=st("dead", failed=True))
    assert failed is Phase.PRESTART
    done = {"proxy": st("running"), "init": st("dead")}
    assert step(Phase.PRESTART, **done) is Phase.MAIN
    assert step(Phase.MAIN, **done) is Phase.MAIN
    assert step(Phase.MAIN, **done, web=st("running")) is Phase.POSTSTART
    assert step(Phase.POSTSTART, **done, web=st("running"), warm=st("dead")) is Phase.WAIT_ALLOC
    # everything but poststop dead, from any phase: poststop
    dead = {"proxy": st("dead"), "init": st("dead"), "web": st("dead"), "warm": st("dead")}
    assert step(Phase.MAIN, **dead) is Phase.POSTSTOP
    assert OPEN[Phase.MAIN] == {Stage.PRESTART_SIDECAR, Stage.MAIN}
    assert OPEN[Phase.POSTSTOP] == {Stage.POSTSTOP}


def test_coordinator_without_lifecycle_tasks_lets_main_start_at_once() -> None:
    coord = TaskCoordinator([Task(name="web")])
    assert not coord.allowed("web")
    coord.task_states_updated({"web": st("pending")})
    assert coord.phase is Phase.MAIN and coord.allowed("web")
    assert coord.wait_allowed("web", 0)


def test_coordinator_restore_finds_its_phase_again() -> None:
    coord = TaskCoordinator([Task(name="init", **PRESTART), Task(name="web")])
    coord.restore({"init": st("dead"), "web": st("running")})
    assert coord.phase is Phase.WAIT_ALLOC
    assert coord.allowed("web") and not coord.allowed("init")


# ---- the client running lifecycle tasks ---------------------------------------


def test_prestart_runs_to_completion_before_main_and_poststop_after(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {
        "init": {"run_for": 0.2},
        "main": {"run_for": 0.2},
        "after": {"run_for": 0.05},
        "cleanup": {"run_for": 0.05},
    }
    fields = {"init": PRESTART, "after": POSTSTART, "cleanup": POSTSTOP}
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, job_type="batch", tasks=tasks, task_fields=fields)
    )

    s = final_states(rpc, alloc.id, "complete")

    assert at(s["main"], "Started") >= at(s["init"], "Terminated")
    # main's setup waited for the prestart task too
    assert at(s["main"], "Task Setup") >= at(s["init"], "Terminated")
    assert at(s["after"], "Started") >= at(s["main"], "Started")
    assert at(s["cleanup"], "Started") >= at(s["main"], "Terminated")
    assert at(s["cleanup"], "Started") >= at(s["after"], "Terminated")
    for name, state in s.items():
        assert not state.failed, name
        assert types(state)[-2:] == ["Started", "Terminated"], name
        assert state.restarts == 0, name


def test_sidecars_start_first_keep_running_and_are_killed_when_main_ends(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {"proxy": {"run_for": 60}, "main": {"run_for": 0.3}, "log": {"run_for": 60}}
    fields = {"proxy": PRESTART_SIDECAR, "log": POSTSTART_SIDECAR}
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, job_type="batch", tasks=tasks, task_fields=fields)
    )

    rpc.wait_for(lambda: running(rpc, alloc.id, "proxy", "main", "log"))
    s = final_states(rpc, alloc.id, "complete")

    assert at(s["main"], "Started") >= at(s["proxy"], "Started")
    assert at(s["log"], "Started") >= at(s["main"], "Started")
    for sidecar in ("proxy", "log"):
        evs = types(s[sidecar])
        assert evs[-4:] == ["Main Tasks Dead", "Killing", "Terminated", "Killed"], sidecar
        assert at(s[sidecar], "Killing") >= at(s["main"], "Terminated")
        assert not s[sidecar].failed
    assert types(s["main"])[-1] == "Terminated"


def test_failed_prestart_fails_the_alloc_and_main_never_starts(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {"init": {"run_for": 0.05, "exit_code": 2}, "main": {"run_for": 60}}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks=tasks, task_fields={"init": PRESTART}))

    s = final_states(rpc, alloc.id, "failed")

    assert s["init"].failed and types(s["init"])[-1] == "Not Restarting"
    assert types(s["main"]) == ["Received", "Sibling Task Failed", "Killed"]
    assert s["main"].started_at is None and not s["main"].failed


def test_ephemeral_prestart_task_in_a_service_job_is_not_restarted(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {"init": {"run_for": 0.05}, "web": {"run_for": 60}}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks=tasks, task_fields={"init": PRESTART}))

    rpc.wait_for(lambda: running(rpc, alloc.id, "web"))
    stored = rpc.wait_status(alloc.id, "running")
    init = stored.task_states["init"]
    assert init.state == "dead" and not init.failed and init.restarts == 0


def test_leader_finishing_kills_the_other_tasks(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {"leader": {"run_for": 0.2}, "helper": {"run_for": 60}}
    alloc = rpc.push_alloc(
        new_alloc(
            agent.node_id, job_type="batch", tasks=tasks, task_fields={"leader": {"leader": True}}
        )
    )

    s = final_states(rpc, alloc.id, "complete")

    assert types(s["helper"])[-4:] == ["Leader Task Dead", "Killing", "Terminated", "Killed"]


def test_stop_kills_main_tasks_before_sidecars_then_runs_poststop(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    tasks = {"proxy": {"run_for": 60}, "web": {"run_for": 60}, "cleanup": {"run_for": 0.05}}
    fields = {
        "proxy": PRESTART_SIDECAR,
        "cleanup": POSTSTOP,
        # web takes its time to die: the sidecar must still wait for it
        "web": {"shutdown_delay": int(0.3 * SEC)},
    }
    alloc = rpc.push_alloc(new_alloc(agent.node_id, tasks=tasks, task_fields=fields))
    rpc.wait_for(lambda: running(rpc, alloc.id, "proxy", "web"))

    rpc.stop_alloc(alloc.id)
    s = final_states(rpc, alloc.id, "complete")

    assert at(s["proxy"], "Killing") >= at(s["web"], "Killed")
    assert at(s["cleanup"], "Started") >= at(s["proxy"], "Killed")
    assert types(s["cleanup"])[-2:] == ["Started", "Terminated"]


# ---- shutdown_delay ------------------------------------------------------------


def test_task_shutdown_delay_waits_before_the_kill(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    fields = {"server": {"shutdown_delay": int(0.5 * SEC)}}
    alloc = rpc.push_alloc(new_alloc(agent.node_id, task_fields=fields))
    rpc.wait_status(alloc.id, "running")

    rpc.stop_alloc(alloc.id)
    s = final_states(rpc, alloc.id, "complete")

    state = s["server"]
    assert types(state)[-4:] == ["Killing", "Waiting for shutdown delay", "Terminated", "Killed"]
    waiting = state.events[-3]
    assert waiting.display_message == (
        "Waiting for shutdown_delay of 500ms before killing the task."
    )
    assert at(state, "Terminated") - waiting.time >= int(0.5 * SEC)


def test_no_shutdown_delay_skips_task_and_group_delays(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(
        new_alloc(
            agent.node_id,
            task_fields={"server": {"shutdown_delay": 30 * SEC}},
            group_fields={"shutdown_delay": 30 * SEC},
        )
    )
    rpc.wait_status(alloc.id, "running")

    began = time.monotonic()
    with rpc.cond:
        rpc.index += 1
        rpc.allocs[alloc.id] = rpc.allocs[alloc.id].replace(
            desired_status="stop",
            desired_transition=DesiredTransition(migrate=True, no_shutdown_delay=True),
            modify_index=rpc.index,
        )
        rpc.cond.notify_all()
    s = final_states(rpc, alloc.id, "complete")

    assert time.monotonic() - began < 10
    state = s["server"]
    assert types(state)[-4:] == ["Killing", "Skipping shutdown delay", "Terminated", "Killed"]
    assert state.events[-3].display_message == (
        "Skipping shutdown_delay of 30s before killing the task."
    )


def test_group_shutdown_delay_comes_before_killing_any_task(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent()
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, group_fields={"shutdown_delay": int(0.5 * SEC)})
    )
    rpc.wait_status(alloc.id, "running")

    stopped_at = time.time_ns()
    rpc.stop_alloc(alloc.id)
    s = final_states(rpc, alloc.id, "complete")

    assert at(s["server"], "Killing") - stopped_at >= int(0.5 * SEC)
    assert "Waiting for shutdown delay" not in types(s["server"])
