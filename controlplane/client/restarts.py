"""Restart policy as a pure object: given how a task ended, decide whether it
restarts and after what delay. No I/O, no threads; time and jitter are
injected so tests drive it deterministically.

Rules (Nomad's `restart` block):
- a killed task never restarts;
- a successful exit restarts only service/system tasks (batch is done), and
  of the lifecycle tasks only sidecars (a prestart or poststart task that is
  not a sidecar, and every poststop task, is done once it succeeds);
- an unrecoverable start error never restarts;
- otherwise up to `attempts` restarts per `interval`, each after `delay`
  (plus up to 25% jitter); past the limit, mode `fail` gives up and mode
  `delay` waits for the interval to end and starts counting again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from controlplane.drivers.base import DriverError, ExitResult
from controlplane.structs import SEC, RestartPolicy, TaskLifecycle

JITTER = 0.25

REASON_WITHIN_POLICY = "Restart within policy"
REASON_NO_RESTARTS = "Policy allows no restarts"
REASON_UNRECOVERABLE = "Error was unrecoverable"
REASON_DELAY = "Exceeded allowed attempts, applying a delay"


class RestartDecision(StrEnum):
    """What happens after a task stops; values are task event types where one applies."""

    RESTART = "Restarting"
    NO_RESTART = "Not Restarting"  # gave up: the task fails
    TERMINATED = "Terminated"  # finished for good, not a failure (batch success)
    KILLED = "Killed"  # stopped on purpose


@dataclass(frozen=True)
class RestartSettings:
    attempts: int
    interval_s: float
    delay_s: float
    mode: str  # "fail" | "delay"


# Nomad's defaults when a job carries no restart block.
DEFAULT_SERVICE = RestartSettings(attempts=2, interval_s=30 * 60, delay_s=15, mode="fail")
DEFAULT_BATCH = RestartSettings(attempts=3, interval_s=24 * 3600, delay_s=15, mode="fail")


def settings_for(policy: RestartPolicy | None, job_type: str) -> RestartSettings:
    """Settings from a (possibly absent or partial) RestartPolicy."""
    base = DEFAULT_BATCH if job_type in ("batch", "sysbatch") else DEFAULT_SERVICE
    if policy is None:
        return base
    return RestartSettings(
        attempts=policy.attempts,
        interval_s=policy.interval / SEC if policy.interval else base.interval_s,
        delay_s=policy.delay / SEC,
        mode=policy.mode or base.mode,
    )


def restarts_on_success(job_type: str, lifecycle: TaskLifecycle | None = None) -> bool:
    """Whether a task that exits 0 is started again (Nomad's NewRestartTracker)."""
    if lifecycle is not None and lifecycle.hook in ("prestart", "poststart"):
        return lifecycle.sidecar
    if lifecycle is not None and lifecycle.hook == "poststop":
        return False
    # service and system tasks are expected to run forever: any exit restarts
    return job_type not in ("batch", "sysbatch")


def go_duration(seconds: float) -> str:
    """Seconds -> Go's time.Duration string ("15s", "30m0s", "1h0m0s", "250ms")."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        ms = seconds * 1000
        return f"{sign}{ms:g}ms"
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    secs_text = f"{secs:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{secs_text}s"
    if minutes:
        return f"{sign}{int(minutes)}m{secs_text}s"
    return f"{sign}{secs_text}s"


class RestartTracker:
    """Counts restarts of one task inside the policy interval."""

    def __init__(
        self,
        settings: RestartSettings,
        job_type: str,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        lifecycle: TaskLifecycle | None = None,
    ) -> None:
        self.settings = settings
        self.restart_on_success = restarts_on_success(job_type, lifecycle)
        self._clock = clock
        self._rand = rand
        self._count = 0
        self._window_start: float | None = None
        self._exit: ExitResult | None = None
        self._start_error: DriverError | None = None
        self._killed = False
        self.reason = ""

    @property
    def count(self) -> int:
        """Restarts counted in the current interval."""
        return self._count

    def set_exit_result(self, result: ExitResult) -> RestartTracker:
        self._exit, self._start_error, self._killed = result, None, False
        return self

    def set_start_error(self, err: DriverError) -> RestartTracker:
        self._exit, self._start_error, self._killed = None, err, False
        return self

    def set_killed(self) -> RestartTracker:
        self._exit, self._start_error, self._killed = None, None, True
        return self

    def next_restart(self) -> tuple[RestartDecision, float]:
        """Decide after the outcome last set; returns (decision, delay_s)."""
        if self._killed:
            self.reason = ""
            return RestartDecision.KILLED, 0.0
        if self._exit is not None and self._exit.successful() and not self.restart_on_success:
            self.reason = ""
            return RestartDecision.TERMINATED, 0.0
        if self._start_error is not None and not self._start_error.recoverable:
            self.reason = REASON_UNRECOVERABLE
            return RestartDecision.NO_RESTART, 0.0

        s = self.settings
        now = self._clock()
        if self._window_start is None or now - self._window_start > s.interval_s:
            self._window_start, self._count = now, 0
        self._count += 1

        if self._count <= s.attempts:
            self.reason = REASON_WITHIN_POLICY
            return RestartDecision.RESTART, self._jittered(s.delay_s)
        if s.mode == "delay":
            # wait out the rest of the interval, then a fresh window begins
            self.reason = REASON_DELAY
            remaining = max(0.0, self._window_start + s.interval_s - now)
            self._window_start, self._count = None, 0
            return RestartDecision.RESTART, remaining
        if s.attempts == 0:
            self.reason = REASON_NO_RESTARTS
        else:
            self.reason = (
                f"Exceeded allowed attempts {s.attempts} in interval "
                f'{go_duration(s.interval_s)} and mode is "{s.mode}"'
            )
        return RestartDecision.NO_RESTART, 0.0

    def _jittered(self, delay_s: float) -> float:
        return delay_s + delay_s * JITTER * self._rand()
