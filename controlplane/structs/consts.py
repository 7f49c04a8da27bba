"""Status and type values, exactly Nomad's strings."""

from __future__ import annotations

from enum import StrEnum


class JobType(StrEnum):
    SERVICE = "service"
    BATCH = "batch"
    SYSTEM = "system"
    SYSBATCH = "sysbatch"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class NodeStatus(StrEnum):
    INIT = "initializing"
    READY = "ready"
    DOWN = "down"
    DISCONNECTED = "disconnected"


class Eligibility(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


class AllocDesiredStatus(StrEnum):
    RUN = "run"
    STOP = "stop"
    EVICT = "evict"


class AllocClientStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    LOST = "lost"
    UNKNOWN = "unknown"


class TaskStateValue(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class EvalStatus(StrEnum):
    PENDING = "pending"
    BLOCKED = "blocked"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"


class EvalTrigger(StrEnum):
    JOB_REGISTER = "job-register"
    JOB_DEREGISTER = "job-deregister"
    NODE_UPDATE = "node-update"
    NODE_DRAIN = "node-drain"
    ALLOC_STOP = "alloc-stop"
    ALLOC_FAILURE = "alloc-failure"
    QUEUED_ALLOCS = "queued-allocs"
    MAX_PLAN_ATTEMPTS = "max-plan-attempts"
    ROLLING_UPDATE = "rolling-update"
    DEPLOYMENT_WATCHER = "deployment-watcher"
    JOB_SCALING = "job-scaling"


class DeploymentStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    CANCELLED = "cancelled"


class TaskEventType(StrEnum):
    RECEIVED = "Received"
    SETUP = "Task Setup"
    DRIVER = "Driver"
    STARTED = "Started"
    TERMINATED = "Terminated"
    RESTARTING = "Restarting"
    NOT_RESTARTING = "Not Restarting"
    KILLING = "Killing"
    KILLED = "Killed"
    DRIVER_FAILURE = "Driver Failure"
    SETUP_FAILURE = "Setup Failure"
    SIBLING_FAILED = "Sibling Task Failed"


TERMINAL_CLIENT = frozenset(
    {AllocClientStatus.COMPLETE, AllocClientStatus.FAILED, AllocClientStatus.LOST}
)
TERMINAL_EVAL = frozenset({EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED})

SEC = 1_000_000_000
"""One second in nanoseconds (durations on the wire)."""
