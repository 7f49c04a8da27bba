"""`alloc logs`: a task's stdout/stderr as raw bytes, with Nomad's flags.

Uses `GET /v1/client/fs/logs/:alloc` framing (the server reads across the
task's rotated log files). As `nomad alloc logs`:

    (no flags)        the whole stdout from the start
    -stderr           stderr instead (-stdout and -stderr together: error)
    -tail             start near the end: -n lines (10 unless -n or -c),
                      asked as n x 120 bytes from the end, then trimmed to
                      the last n lines; or -c bytes. -n / -c only apply
                      with -tail, and not both
    -f                keep following; alone (no -stdout, -stderr, -tail,
                      -n, -c) it follows stdout AND stderr from their ends,
                      printing each to the matching stream
    -job JOB          the argument is a job ID: use one of its allocations,
                      a running one if there is one
    -task T           the task (wins over the positional task argument)
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Iterator
from typing import Any

from nomadtui.client import StreamFrame, resolve_job

from .alloc import fetch_alloc, task_names
from .context import BinarySink, CommandError, Context, reporting

BYTES_PER_LINE = 120
DEFAULT_TAIL_LINES = 10


def _last_lines(data: bytes, count: int) -> bytes:
    if count <= 0:
        return b""
    body = data[:-1] if data.endswith(b"\n") else data
    cut = body.split(b"\n")[-count:]
    return b"\n".join(cut) + (b"\n" if data.endswith(b"\n") else b"")


def _job_alloc_id(ctx: Context, job_prefix: str, task: str | None) -> str:
    """A random allocation of the job, preferring running ones (Nomad's -job).

    Unlike Nomad, a named task narrows the choice to allocations that run
    it: in a job of several groups a random pick would often be refused."""
    with reporting("Error fetching allocations"):
        job = resolve_job(ctx.client, job_prefix)
        allocs: list[dict[str, Any]] = (
            ctx.client.job_allocations(job["ID"], namespace=job.get("Namespace")).data or []
        )
    if not allocs:
        raise CommandError(f'Error fetching allocations: job "{job["ID"]}" has no allocations')
    if task:
        allocs = [a for a in allocs if task in (a.get("TaskStates") or {})] or allocs
    running = [a for a in allocs if a.get("ClientStatus") == "running"]
    return str(random.choice(running or allocs)["ID"])


def _pick_task(ctx: Context, alloc: dict[str, Any]) -> str:
    args = ctx.args
    task: str | None = getattr(args, "task_flag", None) or args.task
    names = task_names(alloc)
    if not task:
        if len(names) != 1:
            raise CommandError(
                f'Error: allocation "{alloc.get("ID", "")[:8]}" runs tasks {", ".join(names)}; '
                "please specify the task"
            )
        return names[0]
    if names and task not in names:
        raise CommandError(f'Failed to validate task: Could not find task named: "{task}"')
    return task


def run_alloc_logs(ctx: Context) -> int:
    args = ctx.args
    task = getattr(args, "task_flag", None) or args.task
    alloc_ref = _job_alloc_id(ctx, args.alloc, task) if args.job else args.alloc
    alloc = fetch_alloc(ctx, alloc_ref)
    task = _pick_task(ctx, alloc)
    lines, nbytes = args.lines, args.bytes
    if args.follow and not (args.stdout or args.stderr or args.tail or lines or nbytes):
        return _follow_both(ctx, alloc["ID"], task)
    if args.stdout and args.stderr:
        raise CommandError("Error: Unable to support both stdout and stderr")
    stream = "stderr" if args.stderr else "stdout"
    origin, offset, keep_lines = "start", 0, None
    if args.tail:
        if lines is not None and nbytes is not None:
            raise CommandError(f"Failed to read {stream} file: both -n and -c set")
        origin = "end"
        if nbytes is not None:
            offset = nbytes
        else:
            keep_lines = lines if lines is not None else DEFAULT_TAIL_LINES
            offset = keep_lines * BYTES_PER_LINE
    frames = ctx.client.stream_logs(
        alloc["ID"], task, stream, bool(args.follow), origin, offset, heartbeats=True
    )
    with reporting(f"Failed to read {stream} file"):
        _copy(frames, ctx.runtime.binary_stdout(), keep_lines)
    return 0


def _copy(frames: Iterator[StreamFrame], sink: BinarySink, keep_lines: int | None) -> None:
    """Frames' data to `sink`; with `keep_lines`, the backlog (everything up to
    the server's first idle heartbeat, or the end) trimmed to that many lines."""
    backlog: bytearray | None = bytearray() if keep_lines is not None else None
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


def _follow_both(ctx: Context, alloc_id: str, task: str) -> int:
    """`-f` alone: stdout and stderr from their ends (offset 1, as Nomad), each
    to its own stream, until interrupted or one stream fails."""
    out: queue.Queue[tuple[str, bytes | BaseException | None]] = queue.Queue()

    def pump(stream: str) -> None:
        try:
            for frame in ctx.client.stream_logs(alloc_id, task, stream, True, "end", 1):
                out.put((stream, frame.data))
        except BaseException as exc:  # handed to the main thread, which reports it
            out.put((stream, exc))
            return
        out.put((stream, None))

    sinks = {
        "stdout": ctx.runtime.binary_stdout(),
        "stderr": _TextSink(ctx.runtime.stderr),
    }
    for stream in sinks:
        threading.Thread(target=pump, args=(stream,), name=f"logs-{stream}", daemon=True).start()
    open_streams = set(sinks)
    while open_streams:
        stream, item = out.get()
        if item is None:
            open_streams.discard(stream)
        elif isinstance(item, BaseException):
            with reporting(f"Failed to tail stdout and stderr files: {stream}"):
                raise item
        else:
            sinks[stream].write(item)
            sinks[stream].flush()
    return 0


class _TextSink:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(data.decode("utf-8", errors="replace"))
        return len(data)

    def flush(self) -> None:
        self._stream.flush()
