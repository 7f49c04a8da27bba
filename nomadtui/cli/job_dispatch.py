"""`job dispatch` and the parameterized section of `job status`.

Dispatch: POST /v1/job/:id/dispatch with the payload (a file, or `-` for
stdin; base64 on the wire), `-meta k=v`, `-id-prefix-template` and
`-idempotency-token`; prints Nomad's `Dispatched Job ID` / `Evaluation ID`
and monitors the evaluation unless `-detach` (or when a repeated token made
no new one).
"""

from __future__ import annotations

import base64
from typing import Any

from . import format as fmt
from .context import CommandError, Context, reporting
from .job_periodic import resolve_kind
from .monitor import EXIT_OK, EvalMonitor
from .parsing import Tree, flag


def _payload(ctx: Context, source: str | None) -> bytes:
    if not source:
        return b""
    if source == "-":
        stdin = ctx.runtime.stdin
        raw = getattr(stdin, "buffer", None)
        return raw.read() if raw is not None else stdin.read().encode()
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise CommandError(f"Error reading input data: {err.strerror or err}") from err


def _meta(values: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"Error parsing meta value: {item}")
        meta[key] = value
    return meta


def run_job_dispatch(ctx: Context) -> int:
    args = ctx.args
    meta = _meta(args.meta or [])
    payload = _payload(ctx, args.input)
    with reporting("Error querying job"):
        stub = resolve_kind(ctx, args.job, "ParameterizedJob", "parameterized")
    job_id, ns = str(stub["ID"]), stub.get("Namespace")
    body: dict[str, Any] = {
        "Payload": base64.b64encode(payload).decode() if payload else None,
        "Meta": meta or None,
        "IdPrefixTemplate": args.id_prefix_template or "",
    }
    params: dict[str, Any] = {"namespace": ns} if ns else {}
    if args.idempotency_token:
        params["idempotency_token"] = args.idempotency_token
    with reporting("Failed to dispatch job"):
        resp = ctx.client.put(f"/v1/job/{job_id}/dispatch", body, params)
    data: dict[str, Any] = resp.data or {}
    eval_id = str(data.get("EvalID") or "")
    rows: list[tuple[str, object]] = [("Dispatched Job ID", data.get("DispatchedJobID", ""))]
    if eval_id:
        rows.append(("Evaluation ID", ctx.short(eval_id)))
    ctx.out(fmt.kv(rows))
    if args.detach or not eval_id:
        return EXIT_OK
    ctx.out()
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id, None, ns)


def parameterized_section(ctx: Context, job: dict[str, Any]) -> None:
    """`Parameterized Job`: the payload requirement and the meta keys."""
    cfg: dict[str, Any] = job.get("ParameterizedJob") or {}
    rows: list[tuple[str, object]] = [("Payload", cfg.get("Payload") or "optional")]
    if cfg.get("MetaRequired"):
        rows.append(("Required Metadata", ", ".join(cfg["MetaRequired"])))
    if cfg.get("MetaOptional"):
        rows.append(("Optional Metadata", ", ".join(cfg["MetaOptional"])))
    ctx.title("Parameterized Job")
    ctx.out(fmt.kv(rows))


def add_commands(tree: Tree, jobs: Any) -> None:
    p = tree.command(
        jobs,
        "dispatch",
        "dispatch an instance of a parameterized job",
        run_job_dispatch,
        "Create an instance of parameterized job JOB. The payload comes from INPUT\n"
        "(a file, or '-' for stdin; at most 16 KiB), metadata from -meta key=value.\n"
        "Monitors the evaluation unless -detach.",
    )
    flag(p, "meta", action="append", metavar="KEY=VALUE", help="dispatch metadata (repeatable)")
    flag(p, "id-prefix-template", metavar="T", default="", help="prefix for the dispatched ID")
    flag(
        p,
        "idempotency-token",
        metavar="TOKEN",
        default="",
        help="dispatch at most one instance with this token",
    )
    flag(p, "detach", action="store_true", help="print the dispatched job ID and exit")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("job", help="parameterized job ID or prefix")
    p.add_argument("input", nargs="?", help="payload file, '-' for stdin")
