"""Task lifecycle hooks: small steps the task runner calls around the driver.

A hook overrides only the stages it cares about. The runner calls
`prestart` in order before every start (a raise is a setup failure that
fails the task), `poststart` after the driver started the task, `prekill`
when a running task is about to be stopped (before its shutdown_delay),
`exited` after each exit, and `stop` once when the runner is done. `restore` tells a
hook, before anything else, that the task ran under an earlier client
process (its prestart work is already done). Later hooks
(artifacts, templates, services, health) plug in here without touching the
runner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.drivers.base import ExitResult, TaskHandle
from controlplane.structs import Allocation, Node, Task, TaskEvent

from .allocdir import AllocDir


@dataclass
class TaskHookContext:
    """What a hook may read, and the runner's event sink."""

    alloc: Allocation
    task: Task
    node: Node
    alloc_dir: AllocDir
    emit: Callable[[TaskEvent], None]
    # hooks may add variables; the runner merges them into the task env
    env: dict[str, str] = field(default_factory=dict)
    # set when the task is being killed (a hook waiting in prestart gives up)
    killing: threading.Event | None = None
    # the runner's in-place restart / signal (template change_mode), when running
    restart: Callable[[TaskEvent], bool] | None = None
    signal: Callable[[str, TaskEvent], bool] | None = None


class TaskHook:
    """Base hook: every stage is a no-op."""

    name = "hook"

    def restore(self) -> None:
        return None

    def prestart(self, ctx: TaskHookContext) -> None:
        return None

    def poststart(self, ctx: TaskHookContext, handle: TaskHandle) -> None:
        return None

    def prekill(self, ctx: TaskHookContext) -> None:
        return None

    def exited(self, ctx: TaskHookContext, result: ExitResult) -> None:
        return None

    def stop(self, ctx: TaskHookContext) -> None:
        return None


class TaskDirHook(TaskHook):
    """Builds the task's directories (`Task Setup: Building Task Directory`)."""

    name = "task_dir"

    def __init__(self, now_ns: Callable[[], int]) -> None:
        self._now_ns = now_ns
        self._built = False

    def restore(self) -> None:
        self._built = True

    def prestart(self, ctx: TaskHookContext) -> None:
        if self._built:
            return
        msg = "Building Task Directory"
        ctx.emit(
            TaskEvent(type="Task Setup", time=self._now_ns(), message=msg, display_message=msg)
        )
        ctx.alloc_dir.build_shared()
        ctx.alloc_dir.build_task(ctx.task.name)
        self._built = True


def default_hooks(now_ns: Callable[[], int]) -> list[TaskHook]:
    from .dispatch_payload import DispatchPayloadHook  # it imports this module

    return [TaskDirHook(now_ns), DispatchPayloadHook()]
