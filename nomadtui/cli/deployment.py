"""`deployment list | status | promote | fail | pause | resume` and
`job deployments`: reading and steering deployments.

Writes go to /v1/deployment/<action>/:id; promote, fail and resume then
follow the evaluation they create (and through it the deployment) unless
`-detach`, as Nomad does. Pause prints one line and returns.
"""

from __future__ import annotations

from typing import Any

from nomadtui.client import resolve_deployment, resolve_job

from .context import Context, reporting
from .deployment_format import format_deployment, format_deployments
from .deployment_monitor import DeploymentMonitor
from .monitor import EXIT_OK, EvalMonitor


def _newest_first(deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(deployments, key=lambda d: int(d.get("CreateIndex") or 0), reverse=True)


def _resolve(ctx: Context) -> dict[str, Any]:
    with reporting("Error retrieving deployment"):
        return resolve_deployment(ctx.client, ctx.args.deployment)


def run_deployment_list(ctx: Context) -> int:
    with reporting("Error retrieving deployments"):
        deployments: list[dict[str, Any]] = ctx.client.deployments().data or []
    ctx.out(format_deployments(_newest_first(deployments), ctx.verbose))
    return EXIT_OK


def run_deployment_status(ctx: Context) -> int:
    deployment = _resolve(ctx)
    if ctx.args.monitor:
        short = deployment["ID"] if ctx.verbose else deployment["ID"][:8]
        ctx.out(f'{ctx.stamp()}: Monitoring deployment "{short}"')
        DeploymentMonitor(ctx, ctx.verbose).run(deployment["ID"])
        return EXIT_OK
    with reporting("Error retrieving deployment"):
        # The prefix listing may be a stub; read the object itself.
        full: dict[str, Any] = ctx.client.deployment(deployment["ID"]).data or deployment
    ctx.out(format_deployment(full, ctx.verbose, ctx.color))
    return EXIT_OK


def _follow(ctx: Context, result: dict[str, Any], blank_line: bool, show_eval: bool) -> int:
    """Nomad's tail for deployment writes: nothing without an evaluation, with
    -detach the evaluation ID (`show_eval`) or nothing, else the monitor."""
    eval_id = result.get("EvalID") or ""
    if not eval_id:
        return EXIT_OK
    if ctx.args.detach:
        if show_eval:
            ctx.out(f"Evaluation ID: {eval_id}")
        return EXIT_OK
    if blank_line:
        ctx.out()
    return EvalMonitor(ctx, ctx.verbose).monitor(eval_id)


def run_deployment_promote(ctx: Context) -> int:
    deployment = _resolve(ctx)
    groups: list[str] = ctx.args.group or []
    with reporting("Error promoting deployment"):
        result: dict[str, Any] = ctx.client.deployment_promote(deployment["ID"], groups).data or {}
    return _follow(ctx, result, blank_line=False, show_eval=True)


def run_deployment_fail(ctx: Context) -> int:
    deployment = _resolve(ctx)
    with reporting("Error failing deployment"):
        result: dict[str, Any] = ctx.client.deployment_fail(deployment["ID"]).data or {}
    reverted = result.get("RevertedJobVersion")
    if reverted is None:
        ctx.out(f'Deployment "{deployment["ID"]}" failed')
    else:
        ctx.out(f'Deployment "{deployment["ID"]}" failed. Auto-reverted to job version {reverted}.')
    return _follow(ctx, result, blank_line=True, show_eval=False)


def run_deployment_pause(ctx: Context) -> int:
    deployment = _resolve(ctx)
    with reporting("Error pausing deployment"):
        ctx.client.deployment_pause(deployment["ID"], pause=True)
    ctx.out(f'Deployment "{deployment["ID"]}" paused')
    return EXIT_OK


def run_deployment_resume(ctx: Context) -> int:
    deployment = _resolve(ctx)
    with reporting("Error resuming deployment"):
        result: dict[str, Any] = (
            ctx.client.deployment_pause(deployment["ID"], pause=False).data or {}
        )
    ctx.out(f'Deployment "{deployment["ID"]}" resumed')
    return _follow(ctx, result, blank_line=True, show_eval=False)


def run_job_deployments(ctx: Context) -> int:
    client = ctx.client
    with reporting("Error retrieving deployments"):
        stub = resolve_job(client, ctx.args.job)
        job_id, ns = stub["ID"], stub.get("Namespace")
        if ctx.args.latest:
            latest: dict[str, Any] | None = client.job_deployment(job_id, namespace=ns).data
            ctx.out(
                format_deployment(latest, ctx.verbose, ctx.color)
                if latest
                else "No deployment found"
            )
            return EXIT_OK
        deployments: list[dict[str, Any]] = (
            client.job_deployments(job_id, all=ctx.args.all, namespace=ns).data or []
        )
    ctx.out(format_deployments(_newest_first(deployments), ctx.verbose))
    return EXIT_OK
