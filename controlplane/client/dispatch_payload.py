"""DispatchPayloadHook: writes a dispatched job's payload into the task's local dir.

Runs before the task starts (after the task dir is built): the job's
`Payload` (base64 on the wire) goes to `local/<dispatch_payload.file>`, as
Nomad's dispatch hook does. A file outside the task dir fails the task's
setup. Nothing else; tasks without `dispatch_payload` are left alone.
"""

from __future__ import annotations

import base64
import binascii
import os

from controlplane.jobspec.job_kinds import payload_path_escapes

from .task_hooks import TaskHook, TaskHookContext


class DispatchPayloadHook(TaskHook):
    name = "dispatch_payload"

    def prestart(self, ctx: TaskHookContext) -> None:
        target = (ctx.task.dispatch_payload or {}).get("File") or ""
        if not target:
            return
        if payload_path_escapes(target):
            raise RuntimeError(f"dispatch_payload file {target!r} escapes the allocation directory")
        job = ctx.alloc.job
        try:
            data = base64.b64decode(job.payload) if job is not None and job.payload else b""
        except (binascii.Error, ValueError) as exc:
            raise RuntimeError(f"dispatch payload is not valid base64: {exc}") from None
        path = ctx.alloc_dir.local_dir(ctx.task.name) / target
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
