"""Nomad's namespace capabilities and what the coarse policies expand to.

The names are Nomad's, spelled exactly as in its policy language; the
expansions follow Nomad's `expandNamespacePolicy` (acl/policy.go).
"""

from __future__ import annotations

DENY = "deny"
LIST_JOBS = "list-jobs"
PARSE_JOB = "parse-job"
READ_JOB = "read-job"
SUBMIT_JOB = "submit-job"
DISPATCH_JOB = "dispatch-job"
READ_LOGS = "read-logs"
READ_FS = "read-fs"
ALLOC_EXEC = "alloc-exec"
ALLOC_NODE_EXEC = "alloc-node-exec"
ALLOC_LIFECYCLE = "alloc-lifecycle"
LIST_SCALING_POLICIES = "list-scaling-policies"
READ_SCALING_POLICY = "read-scaling-policy"
READ_JOB_SCALING = "read-job-scaling"
SCALE_JOB = "scale-job"
SUBMIT_RECOMMENDATION = "submit-recommendation"
SENTINEL_OVERRIDE = "sentinel-override"
CSI_LIST_VOLUME = "csi-list-volume"
CSI_READ_VOLUME = "csi-read-volume"
CSI_WRITE_VOLUME = "csi-write-volume"
CSI_MOUNT_VOLUME = "csi-mount-volume"
CSI_REGISTER_PLUGIN = "csi-register-plugin"
HOST_VOLUME_CREATE = "host-volume-create"
HOST_VOLUME_REGISTER = "host-volume-register"
HOST_VOLUME_READ = "host-volume-read"
HOST_VOLUME_WRITE = "host-volume-write"
HOST_VOLUME_DELETE = "host-volume-delete"
# Nomad's fine-grained job capabilities (accepted in policies; this
# implementation enforces submit-job where Nomad 1.x does)
REGISTER_JOB = "register-job"
REVERT_JOB = "revert-job"
DEREGISTER_JOB = "deregister-job"
PURGE_JOB = "purge-job"
EVALUATE_JOB = "evaluate-job"
PLAN_JOB = "plan-job"
TAG_JOB_VERSION = "tag-job-version"
STABLE_JOB = "stable-job"
FAIL_DEPLOYMENT = "fail-deployment"
PAUSE_DEPLOYMENT = "pause-deployment"
PROMOTE_DEPLOYMENT = "promote-deployment"
UNBLOCK_DEPLOYMENT = "unblock-deployment"
CANCEL_DEPLOYMENT = "cancel-deployment"
SET_ALLOC_HEALTH_DEPLOYMENT = "set-alloc-health-deployment"
GC_ALLOCATION = "gc-allocation"
PAUSE_ALLOCATION = "pause-allocation"
FORCE_PERIODIC_JOB = "force-periodic-job"
DELETE_SERVICE_REGISTRATION = "delete-service-registration"

ALL = frozenset(
    v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and k != "DENY"
) | {DENY}
"""Every capability a namespace rule may name (Nomad's isNamespaceCapabilityValid)."""

# namespace `policy = "..."` -> the capabilities it grants (Nomad's expansion)
POLICY_READ = frozenset(
    {
        LIST_JOBS,
        PARSE_JOB,
        READ_JOB,
        CSI_LIST_VOLUME,
        CSI_READ_VOLUME,
        LIST_SCALING_POLICIES,
        READ_SCALING_POLICY,
        READ_JOB_SCALING,
        HOST_VOLUME_READ,
    }
)
POLICY_SCALE = frozenset(
    {
        LIST_SCALING_POLICIES,
        READ_SCALING_POLICY,
        READ_JOB_SCALING,
        SCALE_JOB,
        READ_JOB,
        SUBMIT_RECOMMENDATION,
    }
)
POLICY_WRITE = POLICY_READ | frozenset(
    {
        SCALE_JOB,
        SUBMIT_JOB,
        DISPATCH_JOB,
        READ_LOGS,
        READ_FS,
        ALLOC_EXEC,
        ALLOC_LIFECYCLE,
        CSI_WRITE_VOLUME,
        CSI_MOUNT_VOLUME,
        SUBMIT_RECOMMENDATION,
        HOST_VOLUME_CREATE,
    }
)
POLICY_DENY = frozenset({DENY})

NAMESPACE_POLICIES = {
    "read": POLICY_READ,
    "write": POLICY_WRITE,
    "scale": POLICY_SCALE,
    "deny": POLICY_DENY,
}

# Implied capabilities (Nomad's expandNamespaceCapabilities)
IMPLIED = {
    HOST_VOLUME_WRITE: frozenset(
        {HOST_VOLUME_REGISTER, HOST_VOLUME_CREATE, HOST_VOLUME_DELETE, HOST_VOLUME_READ}
    ),
    HOST_VOLUME_REGISTER: frozenset({HOST_VOLUME_CREATE, HOST_VOLUME_READ}),
    HOST_VOLUME_CREATE: frozenset({HOST_VOLUME_READ}),
}

# variables { path "..." { capabilities = [...] } }
VARIABLE_CAPABILITIES = frozenset({"list", "read", "write", "destroy", "deny"})
HOST_VOLUME_CAPABILITIES = frozenset({"deny", "mount-readonly", "mount-readwrite"})
OPERATOR_CAPABILITIES = frozenset({"deny", "snapshot-save", "license-read"})
