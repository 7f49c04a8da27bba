"""Task lifecycle coordinator: decides which tasks of an allocation may start
now, from their `lifecycle { hook, sidecar }` blocks and the tasks' current
states (Nomad's tasklifecycle.Coordinator). A state machine plus one gate per
lifecycle stage that task runners wait on; it never starts or kills a task.

States move forward only; each one opens some gates and closes the others:

    init ------> prestart ----------> main -------------> poststart
    (all tasks    prestart tasks       every prestart       no main task is
     pending)     may start            ephemeral done OK,   pending: poststart
                                       every prestart       tasks may start
                                       sidecar running:
                                       main tasks start
    poststart --> wait_alloc --------> poststop
                  every poststart      every task but the poststop ones is
                  ephemeral dead       dead: only poststop tasks may start

`poststop` is reachable from every state: an allocation whose other tasks
are all dead (done, failed or killed) runs its poststop tasks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from enum import StrEnum

from controlplane.structs import Task, TaskState
from controlplane.structs.consts import TaskStateValue


class Stage(StrEnum):
    PRESTART_EPHEMERAL = "prestart"
    PRESTART_SIDECAR = "prestart sidecar"
    MAIN = "main"
    POSTSTART_EPHEMERAL = "poststart"
    POSTSTART_SIDECAR = "poststart sidecar"
    POSTSTOP = "poststop"


class Phase(StrEnum):
    INIT = "init"
    PRESTART = "prestart"
    MAIN = "main"
    POSTSTART = "poststart"
    WAIT_ALLOC = "wait_alloc"
    POSTSTOP = "poststop"


# the stages whose tasks may (re)start in each phase
OPEN: dict[Phase, frozenset[Stage]] = {
    Phase.INIT: frozenset(),
    Phase.PRESTART: frozenset({Stage.PRESTART_EPHEMERAL, Stage.PRESTART_SIDECAR}),
    Phase.MAIN: frozenset({Stage.PRESTART_SIDECAR, Stage.MAIN}),
    Phase.POSTSTART: frozenset(
        {Stage.PRESTART_SIDECAR, Stage.MAIN, Stage.POSTSTART_EPHEMERAL, Stage.POSTSTART_SIDECAR}
    ),
    Phase.WAIT_ALLOC: frozenset({Stage.PRESTART_SIDECAR, Stage.MAIN, Stage.POSTSTART_SIDECAR}),
    Phase.POSTSTOP: frozenset({Stage.POSTSTOP}),
}


def task_stage(task: Task) -> Stage:
    lc = task.lifecycle
    hook = lc.hook if lc is not None else ""
    if hook == "prestart":
        return Stage.PRESTART_SIDECAR if lc and lc.sidecar else Stage.PRESTART_EPHEMERAL
    if hook == "poststart":
        return Stage.POSTSTART_SIDECAR if lc and lc.sidecar else Stage.POSTSTART_EPHEMERAL
    if hook == "poststop":
        return Stage.POSTSTOP
    return Stage.MAIN


def is_sidecar(task: Task) -> bool:
    return task.lifecycle is not None and task.lifecycle.sidecar


def is_poststop(task: Task) -> bool:
    return task_stage(task) is Stage.POSTSTOP


def _state(states: Mapping[str, TaskState], name: str) -> str:
    st = states.get(name)
    return st.state if st is not None else TaskStateValue.PENDING


def next_phase(
    phase: Phase, by_stage: Mapping[Stage, list[str]], states: Mapping[str, TaskState]
) -> Phase:
    """One step of the machine (pure): the phase after `phase` given `states`."""

    def all_in(stage: Stage, value: str) -> bool:
        return all(_state(states, n) == value for n in by_stage.get(stage, ()))

    alloc_done = all(
        _state(states, n) == TaskStateValue.DEAD
        for stage, names in by_stage.items()
        if stage is not Stage.POSTSTOP
        for n in names
    )
    if alloc_done:
        return Phase.POSTSTOP
    if phase is Phase.INIT:
        pending = all(_state(states, n) == TaskStateValue.PENDING for n in states)
        return Phase.PRESTART if pending else phase
    if phase is Phase.PRESTART:
        ephemeral_ok = all(
            _state(states, n) == TaskStateValue.DEAD and not states[n].failed
            for n in by_stage.get(Stage.PRESTART_EPHEMERAL, ())
        )
        sidecars_up = all_in(Stage.PRESTART_SIDECAR, TaskStateValue.RUNNING)
        return Phase.MAIN if ephemeral_ok and sidecars_up else phase
    if phase is Phase.MAIN:
        main_started = all(
            _state(states, n) != TaskStateValue.PENDING for n in by_stage.get(Stage.MAIN, ())
        )
        return Phase.POSTSTART if main_started else phase
    if phase is Phase.POSTSTART:
        done = all_in(Stage.POSTSTART_EPHEMERAL, TaskStateValue.DEAD)
        return Phase.WAIT_ALLOC if done else phase
    return phase


class TaskCoordinator:
    """Thread-safe holder of the phase; task runners ask `wait_allowed`."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._stage_of: dict[str, Stage] = {}
        self._by_stage: dict[Stage, list[str]] = {}
        for task in tasks:
            stage = task_stage(task)
            self._stage_of[task.name] = stage
            self._by_stage.setdefault(stage, []).append(task.name)
        self._cond = threading.Condition()
        self._phase = Phase.INIT

    @property
    def phase(self) -> Phase:
        with self._cond:
            return self._phase

    def stage(self, task: str) -> Stage:
        return self._stage_of.get(task, Stage.MAIN)

    def restore(self, states: Mapping[str, TaskState]) -> None:
        """Skip `init` for an allocation restored after a client restart: its
        tasks are not all pending, and the machine must find its phase again."""
        with self._cond:
            if self._phase is Phase.INIT:
                self._phase = Phase.PRESTART
        self.task_states_updated(states)

    def task_states_updated(self, states: Mapping[str, TaskState]) -> None:
        with self._cond:
            # several phases may pass at once (no prestart tasks: init -> main)
            while True:
                nxt = next_phase(self._phase, self._by_stage, states)
                if nxt is self._phase:
                    break
                self._phase = nxt
            self._cond.notify_all()

    def allowed(self, task: str) -> bool:
        with self._cond:
            return self.stage(task) in OPEN[self._phase]

    def wait_allowed(self, task: str, timeout: float) -> bool:
        """Block up to `timeout` seconds until `task` may start; True when it may."""
        stage = self.stage(task)
        with self._cond:
            return self._cond.wait_for(lambda: stage in OPEN[self._phase], timeout)
