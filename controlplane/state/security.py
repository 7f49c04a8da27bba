"""ACL policies and tokens, namespaces and quota specs: tables, reads, writes.

These tables are small and written rarely, so every write replaces the
table's dict whole instead of mutating it: a snapshot that shares the old
dict is never disturbed (no copy-on-write bookkeeping needed). Only the FSM
writes, through the StateStore; a write that breaks an invariant (second
bootstrap, deleting a namespace that still has live jobs, a namespace naming
an unknown quota) returns an error string and changes nothing, so every
replica refuses the same entry. Nothing here checks permissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from controlplane.structs import (
    ACLPolicy,
    ACLToken,
    Job,
    Namespace,
    QuotaSpec,
    default_namespace,
)
from controlplane.structs.security import DEFAULT_NAMESPACE

from .tables import Tables

T_POLICIES = "acl_policies"
T_TOKENS = "acl_tokens"
T_NAMESPACES = "namespaces"
T_QUOTAS = "quotas"

V = TypeVar("V")


def _with(table: dict[str, V], key: str, value: V) -> dict[str, V]:
    out = dict(table)
    out[key] = value
    return out


def _without(table: dict[str, V], keys: Iterable[str]) -> dict[str, V]:
    drop = set(keys)
    return {k: v for k, v in table.items() if k not in drop}


class SecurityReads:
    """Reads; subclasses provide `_t`."""

    _t: Tables

    # -- ACL -------------------------------------------------------------
    def acl_policy(self, name: str) -> ACLPolicy | None:
        return self._t.acl_policies.get(name)

    def acl_policies(self, prefix: str = "") -> list[ACLPolicy]:
        return [p for n, p in sorted(self._t.acl_policies.items()) if n.startswith(prefix)]

    def acl_token(self, accessor_id: str) -> ACLToken | None:
        return self._t.acl_tokens.get(accessor_id)

    def acl_token_by_secret(self, secret_id: str) -> ACLToken | None:
        accessor = self._t.acl_token_secrets.get(secret_id)
        return None if accessor is None else self._t.acl_tokens.get(accessor)

    def acl_tokens(self, prefix: str = "") -> list[ACLToken]:
        """Tokens in creation order (Nomad lists by CreateIndex)."""
        out = [t for a, t in self._t.acl_tokens.items() if a.startswith(prefix)]
        out.sort(key=lambda t: (t.create_index, t.accessor_id))
        return out

    @property
    def acl_bootstrap_index(self) -> int:
        """Raft index of the bootstrap (0 = never bootstrapped)."""
        return self._t.acl_bootstrap_index

    # -- namespaces --------------------------------------------------------
    def namespace(self, name: str) -> Namespace | None:
        ns = self._t.namespaces.get(name)
        if ns is None and name == DEFAULT_NAMESPACE:
            return default_namespace()
        return ns

    def namespaces(self, prefix: str = "") -> list[Namespace]:
        """Every namespace, `default` always among them, by name."""
        found = dict(self._t.namespaces)
        found.setdefault(DEFAULT_NAMESPACE, default_namespace())
        return [ns for n, ns in sorted(found.items()) if n.startswith(prefix)]

    # -- quotas ----------------------------------------------------------
    def quota(self, name: str) -> QuotaSpec | None:
        return self._t.quotas.get(name)

    def quotas(self, prefix: str = "") -> list[QuotaSpec]:
        return [q for n, q in sorted(self._t.quotas.items()) if n.startswith(prefix)]

    def namespaces_with_quota(self, quota: str) -> list[str]:
        return sorted(n for n, ns in self._t.namespaces.items() if quota and ns.quota == quota)


class SecurityWrites(SecurityReads):
    """Writes; the StateStore provides the lock and `_bump`, and `job_status`."""

    lock: Any

    def _bump(self, index: int, *tables: str) -> None:
        raise NotImplementedError

    def job_status(self, job: Job) -> str:
        raise NotImplementedError

    # -- ACL -------------------------------------------------------------
    def upsert_acl_policies(self, index: int, policies: Iterable[ACLPolicy]) -> None:
        with self.lock:
            table = self._t.acl_policies
            for p in policies:
                old = table.get(p.name)
                created = old.create_index if old else index
                table = _with(table, p.name, p.replace(create_index=created, modify_index=index))
            self._t.acl_policies = table
            self._bump(index, T_POLICIES)

    def delete_acl_policies(self, index: int, names: Iterable[str]) -> None:
        with self.lock:
            self._t.acl_policies = _without(self._t.acl_policies, names)
            self._bump(index, T_POLICIES)

    def upsert_acl_tokens(self, index: int, tokens: Iterable[ACLToken]) -> str:
        """Store tokens; a token's SecretID never changes after creation."""
        with self.lock:
            table, secrets = self._t.acl_tokens, dict(self._t.acl_token_secrets)
            for tok in tokens:
                old = table.get(tok.accessor_id)
                if old is not None:
                    tok = tok.replace(
                        secret_id=old.secret_id,
                        create_time=old.create_time,
                        create_index=old.create_index,
                        modify_index=index,
                    )
                else:
                    if not tok.secret_id or tok.secret_id in secrets:
                        return f"token {tok.accessor_id!r} needs a unique SecretID"
                    tok = tok.replace(create_index=index, modify_index=index)
                secrets[tok.secret_id] = tok.accessor_id
                table = _with(table, tok.accessor_id, tok)
            self._t.acl_tokens, self._t.acl_token_secrets = table, secrets
            self._bump(index, T_TOKENS)
            return ""

    def delete_acl_tokens(self, index: int, accessor_ids: Iterable[str]) -> None:
        with self.lock:
            gone = [self._t.acl_tokens[a] for a in accessor_ids if a in self._t.acl_tokens]
            self._t.acl_tokens = _without(self._t.acl_tokens, (t.accessor_id for t in gone))
            self._t.acl_token_secrets = _without(
                self._t.acl_token_secrets, (t.secret_id for t in gone)
            )
            self._bump(index, T_TOKENS)

    def bootstrap_acl(self, index: int, token: ACLToken, reset_index: int) -> str:
        """Create the bootstrap management token, once. `reset_index` equal to
        the current bootstrap index allows a second one (Nomad's reset)."""
        with self.lock:
            done = self._t.acl_bootstrap_index
            if done and reset_index != done:
                return f"ACL bootstrap already done (reset index: {done})"
            error = self.upsert_acl_tokens(index, [token])
            if not error:
                self._t.acl_bootstrap_index = index
            return error

    # -- namespaces --------------------------------------------------------
    def upsert_namespaces(self, index: int, namespaces: Iterable[Namespace]) -> str:
        with self.lock:
            table = self._t.namespaces
            for ns in namespaces:
                if ns.quota and ns.quota not in self._t.quotas:
                    return f'namespace "{ns.name}" references unknown quota "{ns.quota}"'
                old = table.get(ns.name)
                created = old.create_index if old else index
                table = _with(table, ns.name, ns.replace(create_index=created, modify_index=index))
            self._t.namespaces = table
            self._bump(index, T_NAMESPACES)
            return ""

    def delete_namespaces(self, index: int, names: Iterable[str]) -> str:
        names = list(names)
        with self.lock:
            for name in names:
                if name == DEFAULT_NAMESPACE:
                    return "default namespace can not be deleted"
                live = sorted(
                    j.id
                    for (ns, _), j in self._t.jobs.items()
                    if ns == name and self._job_live(j)
                )
                if live:
                    # Nomad's wording
                    return (
                        f'namespace "{name}" contains at least one non-terminal job '
                        f'"{live[0]}". All jobs must be terminal in namespace before '
                        "it can be deleted"
                    )
            self._t.namespaces = _without(self._t.namespaces, names)
            self._bump(index, T_NAMESPACES)
            return ""

    def _job_live(self, job: Job) -> bool:
        """Not terminal: running, or pending and not stopped (a stopped job
        whose evaluation was never written is as good as dead)."""
        status = self.job_status(job)
        return status == "running" or (status == "pending" and not job.stop)

    # -- quotas ----------------------------------------------------------
    def upsert_quotas(self, index: int, quotas: Iterable[QuotaSpec]) -> None:
        with self.lock:
            table = self._t.quotas
            for q in quotas:
                old = table.get(q.name)
                created = old.create_index if old else index
                table = _with(table, q.name, q.replace(create_index=created, modify_index=index))
            self._t.quotas = table
            self._bump(index, T_QUOTAS)

    def delete_quotas(self, index: int, names: Iterable[str]) -> str:
        names = list(names)
        with self.lock:
            for name in names:
                users = self.namespaces_with_quota(name)
                if users:
                    return f'quota "{name}" is used by namespace(s): {", ".join(users)}'
            self._t.quotas = _without(self._t.quotas, names)
            self._bump(index, T_QUOTAS)
            return ""
