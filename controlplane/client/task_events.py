"""Task event types and messages the client emits beyond TaskEventType, in
Nomad's exact strings, and the text of a `Terminated` event. Data only.
"""

from __future__ import annotations

from controlplane.drivers.base import ExitResult

# operator actions (client restart / signal endpoints)
RESTART_SIGNALED = "Restart Signaled"
SIGNALING = "Signaling"
# shutdown_delay before a kill, or skipped by `no_shutdown_delay`
WAITING_SHUTDOWN_DELAY = "Waiting for shutdown delay"
SKIPPING_SHUTDOWN_DELAY = "Skipping shutdown delay"
# a restarted client could not reattach to the task
RESTORE_FAILED = "Failed Restoring Task"
RESTORE_FAILED_MESSAGE = "failed to restore task; will not run until server is contacted"
# why the allocation runner kills the other tasks
LEADER_DEAD = "Leader Task Dead"
LEADER_DEAD_MESSAGE = "Leader Task in Group dead"
MAIN_DEAD = "Main Tasks Dead"
MAIN_DEAD_MESSAGE = "Main tasks in the group died"


def terminated_message(result: ExitResult) -> str:
    parts = [f"Exit Code: {result.exit_code}"]
    if result.signal:
        parts.append(f"Signal: {result.signal}")
    if result.oom_killed:
        parts.append("OOM Killed")
    if result.err:
        parts.append(f"Exit Message: {result.err!r}")
    return ", ".join(parts)
