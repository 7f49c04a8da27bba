"""Operator actions on nodes and allocations: scheduling eligibility, drain
and alloc stop (API.md §2.2, §2.3).

Each validates against the current state, builds one replicated message
(times and IDs are chosen here, never in the FSM) and returns Nomad's
response shape. Moving allocs off a draining node is drainer.py's job; a
stopped alloc is replaced by the scheduler (DesiredTransition.Migrate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controlplane.errors import NotFound, ValidationError
from controlplane.raft.messages import AllocDesiredTransition, MsgType, NodeDrain, NodeEligibility
from controlplane.structs import DesiredTransition, Evaluation, Node

from .deployment_watcher import rfc3339
from .heartbeats import node_update_evals
from .server import new_eval

if TYPE_CHECKING:
    from .server import Server

ELIGIBLE = "eligible"
INELIGIBLE = "ineligible"


@dataclass(frozen=True)
class DrainSpec:
    deadline_ns: int = 0  # 0: no deadline; < 0: force now
    ignore_system_jobs: bool = False


def _node(server: Server, node_id: str) -> Node:
    node = server.store.node_by_id(node_id)
    if node is None:
        raise NotFound("node not found")
    return node


def _node_response(index: int, evals: list[Evaluation]) -> dict[str, Any]:
    return {
        "EvalIDs": [e.id for e in evals] or None,
        "EvalCreateIndex": index if evals else 0,
        "NodeModifyIndex": index,
        "Index": index,
    }


def _eligible_again_evals(server: Server, node: Node) -> list[Evaluation]:
    """A node turning eligible may take system jobs and blocked work."""
    if node.scheduling_eligibility == ELIGIBLE:
        return []
    return node_update_evals(server.store, node.id, "node-update", system_jobs=True)


async def update_eligibility(server: Server, node_id: str, eligibility: str) -> dict[str, Any]:
    if eligibility not in (ELIGIBLE, INELIGIBLE):
        raise ValidationError(f'invalid scheduling eligibility "{eligibility}"')
    node = _node(server, node_id)
    if node.drain and eligibility == ELIGIBLE:
        raise ValidationError(
            "can not set node's scheduling eligibility to eligible while it is draining"
        )
    evals = _eligible_again_evals(server, node) if eligibility == ELIGIBLE else []
    result = await server.raft.submit_async(
        MsgType.NODE_ELIGIBILITY,
        NodeEligibility(
            node_id=node_id, eligibility=eligibility, now=rfc3339(time.time()), evals=evals
        ),
    )
    return _node_response(result.index, evals)


async def update_drain(
    server: Server,
    node_id: str,
    spec: DrainSpec | None,
    mark_eligible: bool,
    meta: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start or update a drain (`spec`), or cancel it (None; `mark_eligible`)."""
    node = _node(server, node_id)
    now = time.time()
    strategy: dict[str, Any] | None = None
    evals: list[Evaluation] = []
    if spec is not None:
        started = (node.drain_strategy or {}).get("StartedAt") or rfc3339(now)
        strategy = {
            "Deadline": spec.deadline_ns,
            "IgnoreSystemJobs": spec.ignore_system_jobs,
            "ForceDeadline": rfc3339(now + spec.deadline_ns / 1e9)
            if spec.deadline_ns > 0
            else None,
            "StartedAt": started,
        }
    elif mark_eligible:
        evals = _eligible_again_evals(server, node)
    result = await server.raft.submit_async(
        MsgType.NODE_DRAIN,
        NodeDrain(
            node_id=node_id,
            drain_strategy=strategy,
            mark_eligible=mark_eligible,
            meta=meta,
            now=rfc3339(now),
            evals=evals,
        ),
    )
    return _node_response(result.index, evals)


async def stop_alloc(server: Server, alloc_id: str, no_shutdown_delay: bool) -> dict[str, Any]:
    """Ask the scheduler to stop and replace an alloc (it migrates it)."""
    alloc = server.store.alloc_by_id(alloc_id)
    if alloc is None:
        raise NotFound("alloc not found")
    job = server.store.job_by_id(alloc.namespace, alloc.job_id) or alloc.job
    if job is None:
        raise NotFound("job not found")
    now = time.time_ns()
    ev = new_eval(job, "alloc-stop", now).replace(job_modify_index=job.job_modify_index)
    transition = DesiredTransition(migrate=True, no_shutdown_delay=no_shutdown_delay or None)
    result = await server.raft.submit_async(
        MsgType.ALLOC_DESIRED_TRANSITION,
        AllocDesiredTransition(transitions={alloc_id: transition}, evals=[ev], modify_time=now),
    )
    return {"EvalID": ev.id, "Index": result.index}
