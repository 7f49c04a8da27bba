"""Tables: the plain, picklable data of the cluster state.

Only data lives here (no locks, no callbacks), so a Raft snapshot can pickle
it and a restore can replace it whole. Secondary indexes are derived and
rebuilt by the store after a restore.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field

from controlplane.structs import (
    ACLPolicy,
    ACLToken,
    Allocation,
    Deployment,
    Evaluation,
    Job,
    Namespace,
    Node,
    QuotaSpec,
    ServerMember,
    ServiceRegistration,
)
from controlplane.structs.periodic import PeriodicLaunch
from controlplane.structs.variables import RootKeyMeta, VariableEncrypted

JobKey = tuple[str, str]

TABLES = (
    "jobs",
    "nodes",
    "evals",
    "allocs",
    "deployments",
    "services",
    "acl_policies",
    "acl_tokens",
    "namespaces",
    "quotas",
    "periodic_launches",
    "variables",
    "root_keys",
)


@dataclass
class Tables:
    index: int = 0
    table_index: dict[str, int] = field(default_factory=dict)
    jobs: dict[JobKey, Job] = field(default_factory=dict)
    # newest first, at most JOB_VERSIONS_KEPT entries
    job_versions: dict[JobKey, list[Job]] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    evals: dict[str, Evaluation] = field(default_factory=dict)
    allocs: dict[str, Allocation] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    # raft address -> server (added after the first release: see upgrade())
    servers: dict[str, ServerMember] = field(default_factory=dict)
    # registration ID -> native service registration (added with issue 7)
    services: dict[str, ServiceRegistration] = field(default_factory=dict)
    # -- multi-tenancy (issue 9; state/security.py). Each dict is replaced
    # whole on write, never mutated, so snapshots share them safely.
    acl_policies: dict[str, ACLPolicy] = field(default_factory=dict)
    # accessor ID -> token, and secret ID -> accessor ID
    acl_tokens: dict[str, ACLToken] = field(default_factory=dict)
    acl_token_secrets: dict[str, str] = field(default_factory=dict)
    acl_bootstrap_index: int = 0
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    quotas: dict[str, QuotaSpec] = field(default_factory=dict)
    # (namespace, periodic parent ID) -> latest launch (issue 10;
    # state/periodic.py); replaced whole on write like the tables above
    periodic_launches: dict[JobKey, PeriodicLaunch] = field(default_factory=dict)
    # (namespace, path) -> variable, items encrypted; key ID -> root key
    # metadata, never key material (issue 10; state/variables.py); both
    # replaced whole on write
    variables: dict[JobKey, VariableEncrypted] = field(default_factory=dict)
    root_keys: dict[str, RootKeyMeta] = field(default_factory=dict)

    def upgrade(self) -> Tables:
        """Fill tables a snapshot from an older version did not have."""
        for name, f in self.__dataclass_fields__.items():
            if name not in self.__dict__ and f.default_factory is not MISSING:
                self.__dict__[name] = f.default_factory()
        return self


JOB_VERSIONS_KEPT = 6
