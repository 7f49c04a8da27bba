"""`system gc`: force a garbage collection of terminal jobs, evaluations and
allocations (`PUT /v1/system/gc`). Silent on success, like Nomad."""

from __future__ import annotations

from .context import Context, reporting


def run_system_gc(ctx: Context) -> int:
    with reporting("Error running system garbage-collection"):
        ctx.client.system_gc()
    return 0
