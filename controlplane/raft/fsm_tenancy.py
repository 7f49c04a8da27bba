"""FSM handlers of the multi-tenancy and job-kind entries: ACL policies and
tokens, namespaces, quotas, periodic launches, dispatches, variables and root
keys. Mixed into the FSM (fsm.py), under the same rules: never raise, never
block, invariants checked by the store so every replica refuses alike.
"""

from __future__ import annotations

from typing import Any

from controlplane.state import StateStore
from controlplane.state.variables import KEY_NOT_FOUND
from controlplane.structs import Evaluation, Job
from controlplane.structs.periodic import PeriodicLaunch

from . import messages as m
from .results import ApplyResult, CapacityChange, checked


class TenancyHandlers:
    """The FSM provides `store` and the listener calls."""

    store: StateStore

    def _evals_upserted(self, evals: list[Evaluation]) -> None:
        raise NotImplementedError

    def _capacity_changed(self, change: CapacityChange | None = None) -> None:
        raise NotImplementedError

    def tenancy_handlers(self) -> dict[m.MsgType, Any]:
        # invariants are the store's (state/security.py); variables'
        # check-and-set is decided here, in log order (state/variables.py)
        return {
            m.MsgType.ACL_POLICY_UPSERT: self._acl_policy_upsert,
            m.MsgType.ACL_POLICY_DELETE: self._acl_policy_delete,
            m.MsgType.ACL_TOKEN_UPSERT: self._acl_token_upsert,
            m.MsgType.ACL_TOKEN_DELETE: self._acl_token_delete,
            m.MsgType.ACL_BOOTSTRAP: self._acl_bootstrap,
            m.MsgType.NAMESPACE_UPSERT: self._namespace_upsert,
            m.MsgType.NAMESPACE_DELETE: self._namespace_delete,
            m.MsgType.QUOTA_UPSERT: self._quota_upsert,
            m.MsgType.QUOTA_DELETE: self._quota_delete,
            m.MsgType.PERIODIC_LAUNCH: self._periodic_launch,
            m.MsgType.JOB_DISPATCH: self._job_dispatch,
            m.MsgType.VAR_APPLY: self._var_apply,
            m.MsgType.ROOT_KEY_UPSERT: self._root_key_upsert,
            m.MsgType.ROOT_KEY_DELETE: self._root_key_delete,
        }

    # -- multi-tenancy ---------------------------------------------------
    def _acl_policy_upsert(self, index: int, p: m.ACLPolicyUpsert) -> ApplyResult:
        self.store.upsert_acl_policies(index, p.policies)
        return ApplyResult(index=index)

    def _acl_policy_delete(self, index: int, p: m.DeleteByName) -> ApplyResult:
        self.store.delete_acl_policies(index, p.names)
        return ApplyResult(index=index)

    def _acl_token_upsert(self, index: int, p: m.ACLTokenUpsert) -> ApplyResult:
        return checked(index, self.store.upsert_acl_tokens(index, p.tokens))

    def _acl_token_delete(self, index: int, p: m.DeleteByName) -> ApplyResult:
        self.store.delete_acl_tokens(index, p.names)
        return ApplyResult(index=index)

    def _acl_bootstrap(self, index: int, p: m.ACLBootstrap) -> ApplyResult:
        return checked(index, self.store.bootstrap_acl(index, p.token, p.reset_index))

    def _namespace_upsert(self, index: int, p: m.NamespaceUpsert) -> ApplyResult:
        error = self.store.upsert_namespaces(index, p.namespaces)
        if not error:
            # a namespace moved to another quota (or none) may place again
            names = frozenset(ns.name for ns in p.namespaces)
            self._capacity_changed(CapacityChange(index, capacity=False, repointed=names))
        return checked(index, error)

    def _namespace_delete(self, index: int, p: m.DeleteByName) -> ApplyResult:
        return checked(index, self.store.delete_namespaces(index, p.names))

    def _quota_upsert(self, index: int, p: m.QuotaUpsert) -> ApplyResult:
        self.store.upsert_quotas(index, p.quotas)
        # a raised quota may unblock evaluations
        names = frozenset(q.name for q in p.quotas)
        self._capacity_changed(CapacityChange(index, capacity=False, quotas=names))
        return ApplyResult(index=index)

    def _quota_delete(self, index: int, p: m.DeleteByName) -> ApplyResult:
        error = self.store.delete_quotas(index, p.names)
        if not error:
            names = frozenset(p.names)
            self._capacity_changed(CapacityChange(index, capacity=False, quotas=names))
        return checked(index, error)

    # -- periodic and parameterized jobs ------------------------------------
    def _periodic_launch(self, index: int, p: m.PeriodicLaunchMsg) -> ApplyResult:
        parent = self.store.job_by_id(p.namespace, p.job_id)
        if parent is None or parent.periodic is None or parent.stop:
            return ApplyResult(index=index, error="periodic job not found", error_status=404)
        launched = False
        if p.job is not None and self.store.job_by_id(p.job.namespace, p.job.id) is None:
            self._register_child(index, p.job, p.eval, p.submit_time)
            launched = True
        self.store.upsert_periodic_launch(
            index, PeriodicLaunch(id=p.job_id, namespace=p.namespace, launch=p.launch)
        )
        return ApplyResult(index=index, data={"Launched": launched})

    def _job_dispatch(self, index: int, p: m.JobDispatch) -> ApplyResult:
        job = p.job
        existing = self.store.dispatched_child_by_token(
            job.namespace, job.parent_id, job.dispatch_idempotency_token
        )
        if existing is not None:
            return ApplyResult(
                index=index,
                data={
                    "DispatchedJobID": existing.id,
                    "JobCreateIndex": existing.create_index,
                    "Existing": True,
                },
            )
        stored = self._register_child(index, job, p.eval, p.submit_time)
        return ApplyResult(
            index=index,
            data={"DispatchedJobID": stored.id, "JobCreateIndex": stored.create_index},
        )

    def _register_child(self, index: int, job: Job, ev: Evaluation | None, submit_time: int) -> Job:
        stored = self.store.upsert_job(index, job, submit_time)
        if ev is not None:
            evals = [ev.replace(job_modify_index=stored.job_modify_index)]
            self.store.upsert_evals(index, evals)
            self._evals_upserted(evals)
        return stored

    # -- variables and root keys -------------------------------------------
    def _var_apply(self, index: int, p: m.VarApply) -> ApplyResult:
        outcome = self.store.apply_variable(index, p.op, p.var, p.check_index)
        if outcome.error:
            return ApplyResult(index=index, error=outcome.error, error_status=400)
        # a CAS conflict is an answer, not an error: the submitter returns
        # the current variable with a 409 (Nomad's Conflict)
        return ApplyResult(
            index=index, data={"stored": outcome.stored, "conflict": outcome.conflict}
        )

    def _root_key_upsert(self, index: int, p: m.RootKeyUpsert) -> ApplyResult:
        self.store.upsert_root_key(index, p.key)
        return ApplyResult(index=index)

    def _root_key_delete(self, index: int, p: m.DeleteByName) -> ApplyResult:
        for key_id in p.names:
            error = self.store.delete_root_key(index, key_id)
            if error:
                status = 404 if error == KEY_NOT_FOUND else 400
                return ApplyResult(index=index, error=error, error_status=status)
        return ApplyResult(index=index)
