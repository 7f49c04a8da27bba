"""Server side of namespaces (API.md §2.11): validate and submit NAMESPACE_* entries,
and the admission check every job write makes against its namespace.

Validation here gives the caller Nomad's messages before anything is
replicated; the store still refuses deleting `default` or a namespace with
live jobs, and a namespace naming an unknown quota, on every replica alike.
Nothing here checks permissions (the HTTP layer does).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from controlplane.errors import ValidationError
from controlplane.raft.messages import DeleteByName, MsgType, NamespaceUpsert
from controlplane.structs import Job, Namespace

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.state import StateStore

# Nomad's structs.validNamespaceName and maxNamespaceDescriptionLength
NAME_PATTERN = "^[a-zA-Z0-9-]{1,128}$"
_NAME_RE = re.compile(r"\A[a-zA-Z0-9-]{1,128}\Z")
MAX_DESCRIPTION = 256


def namespace_problems(ns: Namespace) -> list[str]:
    """Nomad's Namespace.Validate messages (empty when valid)."""
    problems: list[str] = []
    if not _NAME_RE.match(ns.name):
        problems.append(f'invalid name "{ns.name}". Must match regex {NAME_PATTERN}')
    if len(ns.description) > MAX_DESCRIPTION:
        problems.append(f"description longer than {MAX_DESCRIPTION}")
    return problems


def validate_namespace(ns: Namespace, store: StateStore) -> None:
    problems = namespace_problems(ns)
    if ns.quota and store.quota(ns.quota) is None:
        # the store refuses it too; saying so here spares a Raft round
        problems.append(f'namespace "{ns.name}" references unknown quota "{ns.quota}"')
    if len(problems) == 1:
        raise ValidationError(problems[0])
    if problems:
        body = "".join(f"\n\t* {p}" for p in problems)
        raise ValidationError(f"{len(problems)} errors occurred:{body}\n\n")


def _driver_allowed(ns: Namespace, driver: str) -> bool:
    caps = ns.capabilities or {}
    if driver in (caps.get("DisabledTaskDrivers") or ()):
        return False
    enabled = caps.get("EnabledTaskDrivers") or ()
    return not enabled or driver in enabled


def check_job_namespace(store: StateStore, job: Job) -> None:
    """Refuse a job whose namespace does not exist or forbids one of its
    drivers (Nomad's admission check, same wording)."""
    ns = store.namespace(job.namespace)
    if ns is None:
        raise ValidationError(f'job "{job.id}" is in nonexistent namespace "{job.namespace}"')
    refused = sorted(
        {
            task.driver
            for group in job.task_groups
            for task in group.tasks
            if not _driver_allowed(ns, task.driver)
        }
    )
    if len(refused) == 1:
        raise ValidationError(
            f'used task driver "{refused[0]}" is not allowed in namespace "{ns.name}"'
        )
    if refused:
        listed = " ".join(f'"{d}"' for d in refused)
        raise ValidationError(
            f'used task drivers [{listed}] are not allowed in namespace "{ns.name}"'
        )


class NamespaceEndpoints:
    """Mixed into Server; `raft` and `store` are the server's."""

    raft: RaftNode
    store: StateStore

    async def upsert_namespaces(self, namespaces: list[Namespace]) -> int:
        if not namespaces:
            raise ValidationError("must specify at least one namespace")
        for ns in namespaces:
            validate_namespace(ns, self.store)
        result = await self.raft.submit_async(
            MsgType.NAMESPACE_UPSERT, NamespaceUpsert(namespaces=namespaces)
        )
        return result.index

    async def delete_namespaces(self, names: list[str]) -> int:
        if not names:
            raise ValidationError("must specify at least one namespace to delete")
        result = await self.raft.submit_async(MsgType.NAMESPACE_DELETE, DeleteByName(names=names))
        return result.index
