"""`alloc logs`: stream a task's stdout/stderr as raw bytes.

Uses `GET /v1/client/fs/logs/:alloc` framing; `-tail` starts relative to the
end (offset = lines x 120 bytes, then trimmed to the last N lines).
"""

from __future__ import annotations

from .alloc import fetch_alloc, task_names
from .context import CommandError, Context, reporting

BYTES_PER_LINE = 120
DEFAULT_TAIL_LINES = 10


def _last_lines(data: bytes, count: int) -> bytes:
    if count <= 0:
        return b""
    body = data[:-1] if data.endswith(b"\n") else data
    cut = body.split(b"\n")[-count:]
    return b"\n".join(cut) + (b"\n" if data.endswith(b"\n") else b"")


def run_alloc_logs(ctx: Context) -> int:
    args = ctx.args
    if args.lines is not None and args.bytes is not None:
        raise CommandError("Error: -n and -c are mutually exclusive")
    alloc = fetch_alloc(ctx, args.alloc)
    task: str | None = args.task or getattr(args, "task_flag", None)
    names = task_names(alloc)
    if not task:
        if len(names) != 1:
            raise CommandError(
                f'Error: allocation "{alloc.get("ID", "")[:8]}" runs tasks {", ".join(names)}; '
                "please specify the task"
            )
        task = names[0]
    elif names and task not in names:
        raise CommandError(f'Error: could not find task named: "{task}"')

    tail = bool(args.tail or args.lines is not None or args.bytes is not None)
    origin, offset, keep_lines = "start", 0, None
    if tail:
        origin = "end"
        if args.bytes is not None:
            offset = args.bytes
        else:
            keep_lines = args.lines if args.lines is not None else DEFAULT_TAIL_LINES
            offset = keep_lines * BYTES_PER_LINE

    sink = ctx.runtime.binary_stdout()
    frames = ctx.client.stream_logs(
        alloc["ID"],
        task,
        "stderr" if args.stderr else "stdout",
        bool(args.follow),
        origin,
        offset,
        heartbeats=keep_lines is not None,
    )
    backlog: bytearray | None = bytearray() if keep_lines is not None else None
    with reporting("Error reading logs"):
        for frame in frames:
            if backlog is not None:
                if not frame.is_heartbeat or not backlog:
                    backlog += frame.data
                    continue
                # A heartbeat after some data: the server went idle, so the
                # existing tail has been sent; trim it, then stream as is.
                sink.write(_last_lines(bytes(backlog), keep_lines or 0))
                backlog = None
            elif frame.data:
                sink.write(frame.data)
            sink.flush()
        if backlog is not None:
            sink.write(_last_lines(bytes(backlog), keep_lines or 0))
            sink.flush()
    return 0
