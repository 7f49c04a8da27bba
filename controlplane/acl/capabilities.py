"""Nomad's namespace capabilities and what the coarse policies expand to.

The names are Nomad's, spelled exactly as in its policy language.
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

ALL = frozenset(
    v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and k != "DENY"
) | {DENY}

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
    }
)
POLICY_SCALE = frozenset({LIST_SCALING_POLICIES, READ_SCALING_POLICY, READ_JOB_SCALING, SCALE_JOB})
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
    }
)
