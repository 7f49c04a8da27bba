"""RestartTracker decisions, driven by an injected clock and jitter."""

from __future__ import annotations

import pytest

from controlplane.client.restarts import (
    REASON_DELAY,
    REASON_NO_RESTARTS,
    REASON_UNRECOVERABLE,
    REASON_WITHIN_POLICY,
    RestartDecision,
    RestartSettings,
    RestartTracker,
    go_duration,
    restarts_on_success,
    settings_for,
)
from controlplane.drivers.base import DriverError, ExitResult
from controlplane.structs import SEC, RestartPolicy, TaskLifecycle

FAIL = ExitResult(exit_code=1)
OK = ExitResult(exit_code=0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tracker(
    job_type: str = "service",
    attempts: int = 2,
    interval_s: float = 60,
    delay_s: float = 5,
    mode: str = "fail",
    clock: Clock | None = None,
    jitter: float = 0.0,
) -> RestartTracker:
    return RestartTracker(
        RestartSettings(attempts=attempts, interval_s=interval_s, delay_s=delay_s, mode=mode),
        job_type,
        clock=clock or Clock(),
        rand=lambda: jitter,
    )


def test_restarts_within_attempts_then_gives_up() -> None:
    t = tracker(attempts=2)
    assert t.set_exit_result(FAIL).next_restart() == (RestartDecision.RESTART, 5.0)
    assert t.reason == REASON_WITHIN_POLICY
    assert t.set_exit_result(FAIL).next_restart() == (RestartDecision.RESTART, 5.0)
    decision, delay = t.set_exit_result(FAIL).next_restart()
    assert (decision, delay) == (RestartDecision.NO_RESTART, 0.0)
    assert t.reason == 'Exceeded allowed attempts 2 in interval 1m0s and mode is "fail"'


def test_counter_resets_after_interval() -> None:
    clock = Clock()
    t = tracker(attempts=1, interval_s=60, clock=clock)
    assert t.set_exit_result(FAIL).next_restart()[0] is RestartDecision.RESTART
    clock.now += 61
    assert t.set_exit_result(FAIL).next_restart()[0] is RestartDecision.RESTART
    assert t.count == 1
    clock.now += 1
    assert t.set_exit_result(FAIL).next_restart()[0] is RestartDecision.NO_RESTART


def test_delay_mode_waits_out_the_interval() -> None:
    clock = Clock()
    t = tracker(attempts=1, interval_s=60, delay_s=5, mode="delay", clock=clock)
    assert t.set_exit_result(FAIL).next_restart() == (RestartDecision.RESTART, 5.0)
    clock.now += 20
    decision, delay = t.set_exit_result(FAIL).next_restart()
    assert decision is RestartDecision.RESTART
    assert delay == pytest.approx(40.0)
    assert t.reason == REASON_DELAY
    # a fresh window after the delay
    clock.now += 40
    assert t.set_exit_result(FAIL).next_restart() == (RestartDecision.RESTART, 5.0)


def test_batch_success_terminates_service_success_restarts() -> None:
    assert tracker("batch").set_exit_result(OK).next_restart()[0] is RestartDecision.TERMINATED
    assert tracker("service").set_exit_result(OK).next_restart()[0] is RestartDecision.RESTART
    assert tracker("system").set_exit_result(OK).next_restart()[0] is RestartDecision.RESTART


def test_batch_failure_restarts() -> None:
    assert tracker("batch").set_exit_result(FAIL).next_restart()[0] is RestartDecision.RESTART


def test_zero_attempts_fail_mode() -> None:
    t = tracker(attempts=0)
    assert t.set_exit_result(FAIL).next_restart()[0] is RestartDecision.NO_RESTART
    assert t.reason == REASON_NO_RESTARTS


def test_unrecoverable_start_error_never_restarts() -> None:
    t = tracker(attempts=5)
    err = DriverError("bad config", recoverable=False)
    assert t.set_start_error(err).next_restart()[0] is RestartDecision.NO_RESTART
    assert t.reason == REASON_UNRECOVERABLE
    ok = DriverError("transient")
    assert t.set_start_error(ok).next_restart()[0] is RestartDecision.RESTART


def test_killed_never_restarts() -> None:
    assert tracker().set_killed().next_restart() == (RestartDecision.KILLED, 0.0)


def test_jitter_adds_up_to_a_quarter_of_the_delay() -> None:
    t = tracker(delay_s=8, jitter=1.0)
    assert t.set_exit_result(FAIL).next_restart() == (RestartDecision.RESTART, 10.0)


def test_signal_exit_is_a_failure_for_batch() -> None:
    t = tracker("batch")
    assert t.set_exit_result(ExitResult(signal=9)).next_restart()[0] is RestartDecision.RESTART


def test_settings_from_policy_and_defaults() -> None:
    policy = RestartPolicy(attempts=4, interval=120 * SEC, delay=2 * SEC, mode="delay")
    assert settings_for(policy, "service") == RestartSettings(4, 120.0, 2.0, "delay")
    assert settings_for(None, "batch").attempts == 3
    assert settings_for(None, "service").interval_s == 1800


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (15, "15s"),
        (1.5, "1.5s"),
        (60, "1m0s"),
        (1800, "30m0s"),
        (3600, "1h0m0s"),
        (0.25, "250ms"),
        (5400, "1h30m0s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_success_restarts_only_long_running_lifecycle_tasks() -> None:
    def on_success(job_type: str, hook: str = "", sidecar: bool = False) -> bool:
        lifecycle = TaskLifecycle(hook=hook, sidecar=sidecar) if hook else None
        return restarts_on_success(job_type, lifecycle)

    assert on_success("service") and on_success("system")
    assert not on_success("batch") and not on_success("sysbatch")
    # ephemeral prestart / poststart tasks are done once they succeed, even in services
    assert not on_success("service", "prestart") and not on_success("service", "poststart")
    assert on_success("batch", "prestart", sidecar=True)
    assert on_success("batch", "poststart", sidecar=True)
    assert not on_success("service", "poststop")
    t = RestartTracker(
        RestartSettings(attempts=2, interval_s=60, delay_s=0, mode="fail"),
        "service",
        lifecycle=TaskLifecycle(hook="prestart"),
    )
    assert t.set_exit_result(OK).next_restart() == (RestartDecision.TERMINATED, 0.0)
