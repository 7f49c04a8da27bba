"""The `Allocations` table shared by `job status` and `node status`."""

from __future__ import annotations

from typing import Any

from . import format as fmt
from .context import Context


def _job_version(alloc: dict[str, Any]) -> Any:
    if "JobVersion" in alloc:
        return alloc["JobVersion"]
    return (alloc.get("Job") or {}).get("Version", "")


def alloc_table(ctx: Context, allocs: list[dict[str, Any]]) -> str:
    """Newest allocation first; relative times, or absolute ones with -verbose."""
    ordered = sorted(allocs, key=lambda a: int(a.get("CreateIndex") or 0), reverse=True)
    verbose = ctx.verbose
    if verbose:
        rows: list[list[object]] = [
            [
                "ID",
                "Eval ID",
                "Node ID",
                "Node Name",
                "Task Group",
                "Version",
                "Desired",
                "Status",
                "Created",
                "Modified",
            ]
        ]
    else:
        rows = [
            ["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created", "Modified"]
        ]
    for a in ordered:
        if verbose:
            rows.append(
                [
                    a.get("ID", ""),
                    a.get("EvalID", ""),
                    a.get("NodeID", ""),
                    a.get("NodeName", ""),
                    a.get("TaskGroup", ""),
                    _job_version(a),
                    a.get("DesiredStatus", ""),
                    a.get("ClientStatus", ""),
                    fmt.format_unix_nano(a.get("CreateTime")),
                    fmt.format_unix_nano(a.get("ModifyTime")),
                ]
            )
        else:
            rows.append(
                [
                    ctx.short(a.get("ID", "")),
                    ctx.short(a.get("NodeID", "")),
                    a.get("TaskGroup", ""),
                    _job_version(a),
                    a.get("DesiredStatus", ""),
                    a.get("ClientStatus", ""),
                    ctx.ago(a.get("CreateTime")),
                    ctx.ago(a.get("ModifyTime")),
                ]
            )
    return fmt.columnize(rows)
