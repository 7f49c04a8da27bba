"""Reschedule policy for failed allocations: whether, and when, to replace them.

Pure arithmetic over an alloc, its group's ReschedulePolicy and the clock
(API.md §4.4). The reconciler asks `reschedule_decision`; it never places
anything itself. History lives in the alloc's RescheduleTracker: one event
per earlier reschedule, carried forward to every replacement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from controlplane.structs import (
    Allocation,
    Evaluation,
    Job,
    RescheduleEvent,
    ReschedulePolicy,
    RescheduleTracker,
)
from controlplane.structs.consts import (
    SEC,
    AllocClientStatus,
    AllocDesiredStatus,
    EvalStatus,
    EvalTrigger,
)

# A failure due within this window is replaced in the current evaluation.
RESCHEDULE_WINDOW_NS = 1 * SEC
# Failures due within this long of each other share one follow-up evaluation.
BATCH_WINDOW_NS = 5 * SEC
# An unlimited policy needs only the recent past (the delay functions look at
# the last two events); a limited one keeps what its interval can still count.
_UNLIMITED_EVENTS_KEPT = 5
DELAYED_RESCHEDULE = "created for delayed rescheduling"


@dataclass(frozen=True)
class RescheduleDecision:
    """`now`: replace in this evaluation; otherwise `at_ns` (if set) is when."""

    eligible: bool
    now: bool
    at_ns: int
    delay_ns: int


NOT_ELIGIBLE = RescheduleDecision(eligible=False, now=False, at_ns=0, delay_ns=0)


def parse_time_ns(value: str | None) -> int | None:
    """RFC3339 (Go's, up to nanoseconds) -> unix ns; None when unparseable."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    nanos = 0
    dot = text.find(".")
    if dot >= 0:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        digits = text[dot + 1 : end]
        nanos = int(digits.ljust(9, "0")[:9]) if digits else 0
        text = text[:dot] + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * SEC + nanos


def format_time_ns(ns: int) -> str:
    """unix ns -> RFC3339 UTC with nanoseconds, as Go marshals a time.Time."""
    whole, nanos = divmod(ns, SEC)
    stamp = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def failed_at(alloc: Allocation) -> int:
    """When the alloc failed: its last task finish time, else its ModifyTime."""
    latest = 0
    for state in (alloc.task_states or {}).values():
        finished = parse_time_ns(state.finished_at)
        if finished is not None:
            latest = max(latest, finished)
    return latest or alloc.modify_time


def _events(alloc: Allocation) -> list[RescheduleEvent]:
    tracker = alloc.reschedule_tracker
    return list(tracker.events or ()) if tracker is not None else []


def next_delay(alloc: Allocation, policy: ReschedulePolicy) -> int:
    """The delay before the next replacement, per the policy's delay function."""
    events = _events(alloc)
    if not events:
        return policy.delay
    last = events[-1]
    match policy.delay_function:
        case "exponential":
            delay = last.delay * 2
        case "fibonacci":
            if len(events) < 2:
                delay = policy.delay
            elif events[-2].delay == policy.max_delay and last.delay == policy.delay:
                # The series was reset after hitting the cap: start over.
                delay = last.delay
            else:
                delay = last.delay + events[-2].delay
        case _:
            return policy.delay
    if policy.max_delay > 0 and delay > policy.max_delay:
        delay = policy.max_delay
        # An alloc that ran longer than the cap since it was last replaced
        # starts the series again (it was healthy for a while).
        if failed_at(alloc) - last.reschedule_time > delay:
            delay = policy.delay
    return delay


def _attempts_left(alloc: Allocation, policy: ReschedulePolicy, fail_time: int) -> bool:
    if policy.unlimited:
        return True
    if policy.attempts <= 0:
        return False
    used = sum(1 for e in _events(alloc) if fail_time - e.reschedule_time < policy.interval)
    return used < policy.attempts


def reschedule_decision(
    alloc: Allocation, policy: ReschedulePolicy | None, now_ns: int, eval_id: str
) -> RescheduleDecision:
    """May this failed alloc be replaced, and is it due now?

    An alloc whose follow-up evaluation is the one running is due now, even
    if the broker released the evaluation slightly early.
    """
    if (
        policy is None
        or alloc.desired_status != AllocDesiredStatus.RUN
        or alloc.client_status != AllocClientStatus.FAILED
    ):
        return NOT_ELIGIBLE
    fail_time = failed_at(alloc)
    delay = next_delay(alloc, policy)
    if not _attempts_left(alloc, policy, fail_time):
        return NOT_ELIGIBLE
    if not policy.unlimited and policy.interval > 0 and delay >= policy.interval:
        # The delay alone would push the attempt out of the counting window.
        return NOT_ELIGIBLE
    at = fail_time + delay
    due = at - now_ns <= RESCHEDULE_WINDOW_NS or (
        bool(eval_id) and alloc.followup_eval_id == eval_id
    )
    return RescheduleDecision(eligible=True, now=due, at_ns=at, delay_ns=delay)


def next_tracker(
    alloc: Allocation, policy: ReschedulePolicy | None, now_ns: int, delay_ns: int
) -> RescheduleTracker:
    """The replacement's tracker: the kept history plus this reschedule."""
    events = _events(alloc)
    if policy is not None and not policy.unlimited and policy.interval > 0:
        events = [e for e in events if now_ns - e.reschedule_time < policy.interval]
    else:
        events = events[-(_UNLIMITED_EVENTS_KEPT - 1) :]
    event = RescheduleEvent(
        reschedule_time=now_ns,
        prev_alloc_id=alloc.id,
        prev_node_id=alloc.node_id,
        delay=delay_ns,
    )
    return RescheduleTracker(events=[*events, event])


def penalty_nodes(alloc: Allocation) -> frozenset[str]:
    """Nodes a replacement should avoid: where this alloc and its ancestors failed."""
    return frozenset({alloc.node_id, *(e.prev_node_id for e in _events(alloc))})


def followup_pending(followup: Evaluation | None) -> bool:
    return followup is not None and not followup.terminal()


def followup_evals(
    later: list[tuple[Allocation, int]],
    job: Job,
    ev: Evaluation,
    now_ns: int,
    new_id: Callable[[], str],
) -> tuple[list[Evaluation], list[Allocation]]:
    """Batched delayed-reschedule evaluations and the failed allocs pointing at them.

    Failures due within BATCH_WINDOW_NS of the first in a batch share its
    evaluation, whose WaitUntil is that first due time.
    """
    evals: list[Evaluation] = []
    updated: list[Allocation] = []
    batch_start: int | None = None
    current: Evaluation | None = None
    for alloc, at in sorted(later, key=lambda item: (item[1], item[0].id)):
        if current is None or batch_start is None or at - batch_start > BATCH_WINDOW_NS:
            batch_start = at
            current = Evaluation(
                id=new_id(),
                namespace=job.namespace,
                priority=job.priority,
                type=job.type,
                triggered_by=EvalTrigger.ALLOC_FAILURE.value,
                job_id=job.id,
                job_modify_index=job.job_modify_index,
                status=EvalStatus.PENDING.value,
                status_description=DELAYED_RESCHEDULE,
                wait_until=format_time_ns(at),
                previous_eval=ev.id,
                create_time=now_ns,
                modify_time=now_ns,
            )
            evals.append(current)
        # ModifyTime stays: without task states it is the failure time.
        updated.append(alloc.replace(followup_eval_id=current.id))
    return evals, updated
