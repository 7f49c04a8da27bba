"""HealthTracker and health_settings: deployment health decided on an
injected clock, no threads and no sleeping."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from controlplane.client.health import (
    HealthCheckMode,
    HealthSettings,
    HealthTracker,
    health_settings,
)
from controlplane.structs import (
    SEC,
    Allocation,
    Job,
    Task,
    TaskGroup,
    TaskLifecycle,
    TaskState,
    UpdateStrategy,
)

MIN_S = 10.0
DEADLINE_S = 300.0


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings(min_s: float = MIN_S, deadline_s: float = DEADLINE_S) -> HealthSettings:
    return HealthSettings(HealthCheckMode.TASK_STATES, min_s, deadline_s)


def running(restarts: int = 0) -> TaskState:
    return TaskState(state="running", restarts=restarts)


def pending(restarts: int = 0) -> TaskState:
    return TaskState(state="pending", restarts=restarts)


def dead(failed: bool = False) -> TaskState:
    return TaskState(state="dead", failed=failed)


def tracker(
    clock: FakeClock,
    tasks: list[Task] | None = None,
    states: Mapping[str, TaskState] | None = None,
    cfg: HealthSettings | None = None,
    checks_required: bool = False,
) -> HealthTracker:
    tasks = tasks if tasks is not None else [Task(name="web")]
    return HealthTracker(
        cfg or settings(),
        tasks,
        states if states is not None else {t.name: pending() for t in tasks},
        clock=clock,
        checks_required=checks_required,
    )


# ---- healthy ----------------------------------------------------------


def test_healthy_once_running_for_min_healthy_time() -> None:
    clock = FakeClock()
    t = tracker(clock)
    first = t.check()
    assert first.healthy is None
    assert first.recheck_at == 1000.0 + DEADLINE_S  # nothing runs: only the deadline

    clock.advance(3)
    started = t.observe({"web": running()})
    assert started.healthy is None
    assert started.recheck_at == 1003.0 + MIN_S

    clock.advance(MIN_S - 0.5)
    assert t.check().healthy is None
    clock.advance(0.5)
    decided = t.check()
    assert decided.healthy is True
    assert decided.recheck_at is None


def test_min_healthy_time_counts_from_the_last_task_to_run() -> None:
    clock = FakeClock()
    tasks = [Task(name="web"), Task(name="cache")]
    t = tracker(clock, tasks)
    t.observe({"web": running(), "cache": pending()})
    clock.advance(8)
    assert t.observe({"web": running(), "cache": running()}).recheck_at == 1008.0 + MIN_S
    clock.advance(MIN_S - 1)
    assert t.check().healthy is None
    clock.advance(1)
    assert t.check().healthy is True


def test_decision_reached_before_the_deadline_holds_when_checked_late() -> None:
    clock = FakeClock()
    t = tracker(clock, cfg=settings(min_s=10, deadline_s=20))
    t.observe({"web": running()})
    clock.advance(60)  # nobody looked in time; it was healthy at +10 <= +20
    assert t.check().healthy is True


def test_zero_min_healthy_time_is_healthy_when_running() -> None:
    clock = FakeClock()
    t = tracker(clock, cfg=settings(min_s=0))
    assert t.observe({"web": running()}).healthy is True


# ---- unhealthy --------------------------------------------------------


def test_restart_before_min_healthy_time_is_unhealthy() -> None:
    clock = FakeClock()
    t = tracker(clock)
    t.observe({"web": running()})
    clock.advance(MIN_S / 2)
    decided = t.observe({"web": pending(restarts=1)})
    assert decided.healthy is False
    assert decided.reason == 'Task "web" restarted'
    # final: running again for ages does not change it
    t.observe({"web": running(restarts=1)})
    clock.advance(10 * MIN_S)
    assert t.check().healthy is False


def test_failed_task_is_unhealthy() -> None:
    clock = FakeClock()
    t = tracker(clock, [Task(name="web"), Task(name="log")])
    t.observe({"web": running(), "log": running()})
    decided = t.observe({"web": running(), "log": dead(failed=True)})
    assert (decided.healthy, decided.reason) == (False, 'Task "log" failed')


def test_main_task_exiting_is_unhealthy() -> None:
    clock = FakeClock()
    t = tracker(clock)
    t.observe({"web": running()})
    assert t.observe({"web": dead()}).healthy is False


def test_deadline_passes_while_not_running() -> None:
    clock = FakeClock()
    t = tracker(clock)
    clock.advance(DEADLINE_S - 1)
    assert t.check().healthy is None
    clock.advance(1)
    decided = t.check()
    assert decided.healthy is False
    assert decided.reason == "Task not running by healthy_deadline of 5m0s"


def test_deadline_before_min_healthy_time_can_elapse() -> None:
    clock = FakeClock()
    t = tracker(clock, cfg=settings(min_s=10, deadline_s=15))
    clock.advance(8)
    # healthy would be at +18, after the deadline at +15: wake at the deadline
    assert t.observe({"web": running()}).recheck_at == 1015.0
    clock.advance(7)
    decided = t.check()
    assert decided.healthy is False
    assert decided.reason == (
        "Task not running for min_healthy_time of 10s by healthy_deadline of 15s"
    )


def test_alloc_terminal_before_decision_is_unhealthy() -> None:
    clock = FakeClock()
    t = tracker(clock)
    assert t.alloc_terminal().healthy is False
    healthy = tracker(clock, cfg=settings(min_s=0))
    healthy.observe({"web": running()})
    assert healthy.alloc_terminal().healthy is True  # already decided: unchanged


# ---- tracking a new deployment ---------------------------------------


def test_tracking_started_late_ignores_earlier_restarts() -> None:
    # an in-place update into a new deployment: the task runs already and
    # restarted twice under the old one; only new restarts count
    clock = FakeClock()
    t = tracker(clock, states={"web": running(restarts=2)})
    assert t.check().recheck_at == 1000.0 + MIN_S
    clock.advance(MIN_S)
    assert t.check().healthy is True

    again = tracker(clock, states={"web": running(restarts=2)})
    assert again.observe({"web": pending(restarts=3)}).healthy is False


# ---- lifecycle tasks ---------------------------------------------------


def test_lifecycle_tasks() -> None:
    clock = FakeClock()
    tasks = [
        Task(name="main"),
        Task(name="init", lifecycle=TaskLifecycle(hook="prestart")),
        Task(name="proxy", lifecycle=TaskLifecycle(hook="prestart", sidecar=True)),
        Task(name="cleanup", lifecycle=TaskLifecycle(hook="poststop")),
    ]
    t = tracker(clock, tasks, cfg=settings(min_s=0))
    # the sidecar counts: not healthy until it runs too
    base = {"main": running(), "init": dead(), "cleanup": pending()}
    assert t.observe({**base, "proxy": pending()}).healthy is None
    assert t.observe({**base, "proxy": running()}).healthy is True

    failing = tracker(clock, tasks, cfg=settings(min_s=0))
    decided = failing.observe({"main": pending(), "init": dead(failed=True), "proxy": pending()})
    assert (decided.healthy, decided.reason) == (False, 'Task "init" failed')


# ---- checks seam -------------------------------------------------------


def test_checks_required_waits_for_passing_checks() -> None:
    clock = FakeClock()
    t = tracker(clock, checks_required=True)
    t.observe({"web": running()})
    clock.advance(MIN_S)
    assert t.check().healthy is None  # tasks long enough, no passing checks
    t.set_checks(True)
    clock.advance(MIN_S - 1)
    assert t.check().healthy is None
    clock.advance(1)
    assert t.check().healthy is True


# ---- settings from the allocation ------------------------------------


def alloc_with(update: UpdateStrategy | None, deployment_id: str = "d1") -> Allocation:
    job = Job(id="j", task_groups=[TaskGroup(name="g", tasks=[Task(name="t")], update=update)])
    return Allocation(id="a", job=job, task_group="g", deployment_id=deployment_id)


@pytest.mark.parametrize(
    ("health_check", "mode"),
    [
        ("task_states", HealthCheckMode.TASK_STATES),
        ("checks", HealthCheckMode.CHECKS),
        ("", HealthCheckMode.CHECKS),  # Nomad's default
    ],
)
def test_health_settings_tracked_modes(health_check: str, mode: HealthCheckMode) -> None:
    update = UpdateStrategy(
        health_check=health_check, min_healthy_time=10 * SEC, healthy_deadline=5 * 60 * SEC
    )
    assert health_settings(alloc_with(update)) == HealthSettings(mode, 10.0, 300.0)


def test_health_settings_not_tracked() -> None:
    tracked = UpdateStrategy(health_check="task_states", max_parallel=1)
    assert health_settings(alloc_with(UpdateStrategy(health_check="manual"))) is None
    assert health_settings(alloc_with(tracked, deployment_id="")) is None
    assert health_settings(alloc_with(None)) is None
    assert health_settings(alloc_with(tracked)) is not None
