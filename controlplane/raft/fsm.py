"""FSM: applies committed Raft entries to the StateStore. A dispatch table.

`apply` runs in the Raft thread on every server, in log order. It never
raises (a raising apply wedges pysyncobj) and never blocks: every handler
decodes, makes store calls, and returns a result value. Errors come back as
`ApplyResult(error=...)` to the submitter only. Observers (eval broker,
blocked evals) hear about changes through `listeners`, which must not block.
Every successfully applied entry also publishes its events to `events` (the
event stream's ring buffer), on every server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
from msgspec.structs import replace as _replace

from controlplane.state import StateStore
from controlplane.state.events import Event, EventBuffer, entry_events
from controlplane.structs import Deployment, DeploymentStatusUpdate, Evaluation

from . import messages as m
from .fsm_tenancy import TenancyHandlers
from .results import ApplyResult, CapacityChange, FSMListener, conflict

log = logging.getLogger(__name__)

# entry type number -> MsgType, and its name: the enum's own lookups
# (MsgType(n), .name) cost ~0.8 us per entry, every entry, on every server
_MSG_TYPES = {int(t): t for t in m.MsgType}
_MSG_NAMES = {t: t.name for t in m.MsgType}


class FSM(TenancyHandlers):
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.listeners: list[FSMListener] = []
        self.events = EventBuffer()
        # events of a batch entry's sub-entries, published as ONE batch: they
        # share the entry's index, and a subscriber resumes after the index
        # it last read, so a second batch of the same index could be missed
        self._batch_events: list[Event] | None = None
        self._handlers: dict[m.MsgType, Callable[[int, Any], ApplyResult]] = {
            m.MsgType.NOOP: lambda i, p: ApplyResult(index=i),
            m.MsgType.JOB_REGISTER: self._job_register,
            m.MsgType.JOB_DEREGISTER: self._job_deregister,
            m.MsgType.NODE_REGISTER: self._node_register,
            m.MsgType.NODE_STATUS: self._node_status,
            m.MsgType.EVAL_UPSERT: self._eval_upsert,
            m.MsgType.PLAN_APPLY: self._plan_apply,
            m.MsgType.ALLOC_CLIENT_UPDATE: self._alloc_client_update,
            m.MsgType.DEPLOYMENT_UPDATE: self._deployment_update,
            m.MsgType.ALLOC_HEALTH: self._alloc_health,
            m.MsgType.SERVER_MEMBER: self._server_member,
            m.MsgType.GC: self._gc,
            m.MsgType.RESTORE: self._restore,
            m.MsgType.JOB_STABLE: self._job_stable,
            # node / alloc operator actions
            m.MsgType.NODE_ELIGIBILITY: self._node_eligibility,
            m.MsgType.NODE_DRAIN: self._node_drain,
            m.MsgType.ALLOC_DESIRED_TRANSITION: self._alloc_desired_transition,
            # native service catalog
            m.MsgType.SERVICE_UPSERT: self._service_upsert,
            m.MsgType.SERVICE_DELETE: self._service_delete,
            # multi-tenancy, job kinds and variables (fsm_tenancy.py)
            **self.tenancy_handlers(),
        }

    def apply(self, index: int, msg_type: int, payload: bytes) -> ApplyResult:
        if msg_type == m.MsgType.BATCH:
            result = self._apply_batch(index, payload)
        else:
            result = self._apply_one(index, msg_type, payload)
        self.store.mark_applied(index)
        self.store.notifier.notify()
        return result

    def _apply_batch(self, index: int, payload: bytes) -> ApplyResult:
        """Sub-entries share the entry's index and are applied in order, each
        with its own result: one failing does not undo the others."""
        try:
            batch = msgspec.msgpack.decode(payload, type=m.Batch)
        except Exception as exc:
            log.exception("fsm: undecodable batch index=%d", index)
            return ApplyResult(index=index, error=f"failed to apply: {exc}", error_status=500)
        self._batch_events = []
        try:
            results = [self._apply_one(index, e.msg_type, e.payload) for e in batch.entries]
        finally:
            events, self._batch_events = self._batch_events, None
        self.events.publish(index, events)
        return ApplyResult(index=index, batch=results)

    def _apply_one(self, index: int, msg_type: int, payload: bytes) -> ApplyResult:
        try:
            try:
                mt = _MSG_TYPES[msg_type]
            except (KeyError, TypeError):
                mt = m.MsgType(msg_type)  # raises the error an unknown type gets
            msg = m.decode(mt, payload)
            result = self._handlers[mt](index, msg)
            if not result.error:
                self._publish_events(index, mt, msg)
        except Exception as exc:  # never let an entry wedge the log
            log.exception("fsm: failed to apply entry index=%d type=%s", index, msg_type)
            result = ApplyResult(index=index, error=f"failed to apply: {exc}", error_status=500)
        return result

    # -- handlers --------------------------------------------------------
    def _job_register(self, index: int, p: m.JobRegister) -> ApplyResult:
        if self.store.namespace(p.job.namespace) is None:
            # checked by the API too; here it also holds against a racing delete
            return ApplyResult(
                index=index,
                error=f'job "{p.job.id}" is in nonexistent namespace "{p.job.namespace}"',
                error_status=400,
            )
        existing = self.store.job_by_id(p.job.namespace, p.job.id)
        if p.enforce_index:
            current = existing.job_modify_index if existing else 0
            if p.job_modify_index == 0 and existing is not None:
                return conflict(index, "Enforcing job modify index 0: job already exists")
            if p.job_modify_index != 0 and existing is None:
                return conflict(
                    index, f"Enforcing job modify index {p.job_modify_index}: job does not exist"
                )
            if p.job_modify_index != current:
                return conflict(
                    index,
                    f"Enforcing job modify index {p.job_modify_index}: job exists with "
                    f"conflicting job modify index: {current}",
                )
        stored = self.store.upsert_job(index, p.job, p.submit_time)
        evals = []
        if p.eval is not None:
            evals = [_replace(p.eval, job_modify_index=stored.job_modify_index)]
            self.store.upsert_evals(index, evals)
            self._evals_upserted(evals)
        return ApplyResult(index=index, data={"JobModifyIndex": stored.job_modify_index})

    def _job_deregister(self, index: int, p: m.JobDeregister) -> ApplyResult:
        job = self.store.job_by_id(p.namespace, p.job_id)
        if job is None:
            return ApplyResult(index=index, data={"found": False})
        if p.purge:
            self.store.delete_job(index, p.namespace, p.job_id)
        elif not job.stop:
            self.store.upsert_job(index, job.replace(stop=True), p.submit_time)
        if p.eval is not None:
            self.store.upsert_evals(index, [p.eval])
            self._evals_upserted([p.eval])
        return ApplyResult(index=index, data={"found": True})

    def _node_register(self, index: int, p: m.NodeRegister) -> ApplyResult:
        stored = self.store.upsert_node(index, p.node, p.now)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        if stored.status == "ready":
            self._capacity_changed()
        return ApplyResult(index=index)

    def _node_status(self, index: int, p: m.NodeStatus) -> ApplyResult:
        if not self.store.update_node_status(index, p.node_id, p.status, p.at_s, p.now):
            return ApplyResult(index=index, error="node not found", error_status=404)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        if p.status == "ready":
            self._capacity_changed()
        return ApplyResult(index=index)

    def _eval_upsert(self, index: int, p: m.EvalUpsert) -> ApplyResult:
        self.store.upsert_evals(index, p.evals)
        self._evals_upserted(p.evals)
        return ApplyResult(index=index)

    def _plan_apply(self, index: int, p: m.PlanApply) -> ApplyResult:
        # the deployment first: placements into it are counted against it
        if p.deployment is not None:
            self.store.upsert_deployment(index, p.deployment)
        for u in p.deployment_updates:
            self.store.update_deployment(index, u.deployment_id, partial(_set_status, update=u))
        # allocations sent without their job get the entry's one copy
        self.store.upsert_allocs(index, p.allocs, job=p.job)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        stopped = frozenset(a.namespace for a in p.allocs if a.desired_status != "run")
        if stopped:
            self._capacity_changed(CapacityChange(index, namespaces=stopped))
        return ApplyResult(index=index)

    def _alloc_client_update(self, index: int, p: m.AllocClientUpdateMsg) -> ApplyResult:
        changed = self.store.update_allocs_from_client(index, p.updates)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        stopped = frozenset(a.namespace for a in changed if a.client_terminal())
        if stopped:
            self._capacity_changed(CapacityChange(index, namespaces=stopped))
        return ApplyResult(index=index)

    def _deployment_update(self, index: int, p: m.DeploymentUpdate) -> ApplyResult:
        def change(d: Deployment) -> Deployment:
            groups = dict(d.task_groups)
            for name, state in groups.items():
                if p.promote and (not p.groups or name in p.groups):
                    state = state.replace(promoted=True)
                if name in p.require_progress_by:
                    state = state.replace(require_progress_by=p.require_progress_by[name])
                groups[name] = state
            return d.replace(
                task_groups=groups,
                status=p.status or d.status,
                status_description=p.status_description or d.status_description,
                modify_time=p.modify_time or d.modify_time,
            )

        if self.store.update_deployment(index, p.deployment_id, change) is None:
            return ApplyResult(index=index, error="deployment not found", error_status=404)
        if p.job_stable is not None:
            s = p.job_stable
            self.store.set_job_stable(index, s.namespace, s.job_id, s.version, s.stable)
        if p.revert_job is not None:
            self.store.upsert_job(index, p.revert_job, p.submit_time)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        return ApplyResult(index=index)

    def _alloc_health(self, index: int, p: m.AllocHealth) -> ApplyResult:
        self.store.set_alloc_health(index, p.healthy, True, p.timestamp)
        self.store.set_alloc_health(index, p.unhealthy, False, p.timestamp)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        return ApplyResult(index=index)

    def _restore(self, index: int, p: m.RestoreState) -> ApplyResult:
        from controlplane.server import snapshot

        self.store.restore(snapshot.to_tables(snapshot.load(p.archive), index))
        return ApplyResult(index=index)

    def _gc(self, index: int, p: m.GarbageCollect) -> ApplyResult:
        # only tables that lose something get a new index (blocking queries)
        if p.eval_ids or p.alloc_ids or p.jobs:
            self.store.delete_garbage(index, p.eval_ids, p.alloc_ids, p.jobs)
        if p.acl_token_ids:
            self.store.delete_acl_tokens(index, p.acl_token_ids)
        return ApplyResult(index=index)

    def _server_member(self, index: int, p: m.ServerMemberMsg) -> ApplyResult:
        self.store.upsert_server(index, p.member)
        return ApplyResult(index=index)

    def _job_stable(self, index: int, p: m.JobStable) -> ApplyResult:
        if not self.store.set_job_stable(index, p.namespace, p.job_id, p.version, p.stable):
            return ApplyResult(index=index, error="job version not found", error_status=404)
        job = self.store.job_by_id(p.namespace, p.job_id)
        return ApplyResult(index=index, data={"JobModifyIndex": job.modify_index if job else 0})

    # -- node / alloc operator actions -------------------------------------
    def _node_eligibility(self, index: int, p: m.NodeEligibility) -> ApplyResult:
        node = self.store.update_node_eligibility(index, p.node_id, p.eligibility, p.now)
        if node is None:
            return ApplyResult(index=index, error="node not found", error_status=404)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        if p.eligibility == "eligible":
            self._capacity_changed()
        return ApplyResult(index=index)

    def _node_drain(self, index: int, p: m.NodeDrain) -> ApplyResult:
        node = self.store.update_node_drain(
            index, p.node_id, p.drain_strategy, p.mark_eligible, p.complete, p.meta, p.now
        )
        if node is None:
            return ApplyResult(index=index, error="node not found", error_status=404)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        if node.scheduling_eligibility == "eligible" and not node.drain:
            self._capacity_changed()
        return ApplyResult(index=index)

    def _alloc_desired_transition(self, index: int, p: m.AllocDesiredTransition) -> ApplyResult:
        self.store.update_alloc_desired_transitions(index, p.transitions, p.modify_time)
        if p.evals:
            self.store.upsert_evals(index, p.evals)
            self._evals_upserted(p.evals)
        return ApplyResult(index=index)

    # -- service catalog -------------------------------------------------
    def _service_upsert(self, index: int, p: m.ServiceUpsert) -> ApplyResult:
        # registrations of allocs gone or ended since validation are dropped here
        changed = self.store.upsert_services(index, p.services)
        return ApplyResult(index=index, data={"Changed": changed})

    def _service_delete(self, index: int, p: m.ServiceDelete) -> ApplyResult:
        deleted = self.store.delete_services(index, p.ids)
        deleted += self.store.delete_services_of_allocs(index, p.alloc_ids)
        return ApplyResult(index=index, data={"Deleted": deleted})

    # -- events ----------------------------------------------------------
    def _publish_events(self, index: int, mt: m.MsgType, msg: Any) -> None:
        # An event failure must not turn an applied entry into an error.
        try:
            events = entry_events(_MSG_NAMES[mt], msg, self.store, index)
            if self._batch_events is not None:
                self._batch_events.extend(events)
            else:
                self.events.publish(index, events)
        except Exception:
            log.exception("fsm: building events failed index=%d type=%s", index, mt.name)

    # -- listeners -------------------------------------------------------
    def _evals_upserted(self, evals: list[Evaluation]) -> None:
        stored = [self.store.eval_by_id(e.id) or e for e in evals]
        for listener in self.listeners:
            try:
                listener.evals_upserted(stored)
            except Exception:
                log.exception("fsm: listener failed on evals_upserted")

    def _capacity_changed(self, change: CapacityChange | None = None) -> None:
        for listener in self.listeners:
            try:
                listener.capacity_changed(change)
            except Exception:
                log.exception("fsm: listener failed on capacity_changed")


def _set_status(dep: Deployment, update: DeploymentStatusUpdate) -> Deployment:
    return dep.replace(status=update.status, status_description=update.status_description)
