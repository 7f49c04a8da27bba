"""The HCL block schema of a Nomad job: which keys are blocks, what they are called in
the API, which attributes are renamed, which hold durations.

Pure data; the walk that applies it lives in `mapping`. Keys not listed here
fall back to snake_case -> Go naming (`kill_signal` -> `KillSignal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BlockSpec:
    """How one HCL block type maps onto the API shape."""

    key: str  # API field in the parent
    label: str | None = None  # API field that receives the block label
    many: bool = False  # repeatable: a list in the API
    keyed: bool = False  # map keyed by label (group `volume "x"`)
    rename: Mapping[str, str] = field(default_factory=dict)
    durations: frozenset[str] = frozenset()  # HCL attribute names holding durations
    maps: frozenset[str] = frozenset()  # HCL names kept verbatim as free-form maps
    string_maps: frozenset[str] = frozenset()  # maps whose values become strings
    blocks: Mapping[str, BlockSpec] = field(default_factory=dict)


def _d(*names: str) -> frozenset[str]:
    return frozenset(names)


_CONSTRAINT_RENAME = {"attribute": "LTarget", "operator": "Operand", "value": "RTarget"}

CONSTRAINT = BlockSpec("Constraints", many=True, rename=_CONSTRAINT_RENAME)
AFFINITY = BlockSpec("Affinities", many=True, rename=_CONSTRAINT_RENAME)
SPREAD = BlockSpec(
    "Spreads",
    many=True,
    blocks={"target": BlockSpec("SpreadTarget", label="Value", many=True)},
)

CHECK_RESTART = BlockSpec("CheckRestart", durations=_d("grace"))

CHECK = BlockSpec(
    "Checks",
    many=True,
    rename={
        "port": "PortLabel",
        "task": "TaskName",
        "tls_server_name": "TLSServerName",
        "tls_skip_verify": "TLSSkipVerify",
        "grpc_service": "GRPCService",
        "grpc_use_tls": "GRPCUseTLS",
    },
    durations=_d("interval", "timeout"),
    maps=_d("header"),
    blocks={"check_restart": CHECK_RESTART},
)

SERVICE = BlockSpec(
    "Services",
    many=True,
    rename={"port": "PortLabel", "task": "TaskName"},
    maps=_d("tagged_addresses"),
    string_maps=_d("meta", "canary_meta"),
    blocks={"check": CHECK, "check_restart": CHECK_RESTART},
)

PORT = BlockSpec(
    "Ports",  # split into ReservedPorts / DynamicPorts by `mapping`
    label="Label",
    many=True,
    rename={"static": "Value", "to": "To", "host_network": "HostNetwork"},
)

NETWORK = BlockSpec(
    "Networks",
    many=True,
    rename={"mbits": "MBits"},
    blocks={
        "port": PORT,
        "dns": BlockSpec("DNS"),
    },
)

RESTART = BlockSpec("RestartPolicy", durations=_d("interval", "delay"))
RESCHEDULE = BlockSpec("ReschedulePolicy", durations=_d("interval", "delay", "max_delay"))
UPDATE = BlockSpec(
    "Update",
    durations=_d("stagger", "min_healthy_time", "healthy_deadline", "progress_deadline"),
)
MIGRATE = BlockSpec("Migrate", durations=_d("min_healthy_time", "healthy_deadline"))
EPHEMERAL_DISK = BlockSpec("EphemeralDisk", rename={"size": "SizeMB"})
VAULT = BlockSpec("Vault")

RESOURCES = BlockSpec(
    "Resources",
    rename={
        "cpu": "CPU",
        "memory": "MemoryMB",
        "memory_max": "MemoryMaxMB",
        "disk": "DiskMB",
        "iops": "IOPS",
        "secrets": "SecretsMB",
    },
    blocks={
        "network": NETWORK,
        "device": BlockSpec(
            "Devices",
            label="Name",
            many=True,
            blocks={"constraint": CONSTRAINT, "affinity": AFFINITY},
        ),
        "numa": BlockSpec("NUMA"),
    },
)

TEMPLATE = BlockSpec(
    "Templates",
    many=True,
    rename={
        "source": "SourcePath",
        "destination": "DestPath",
        "data": "EmbeddedTmpl",
        "env": "Envvars",
        "left_delimiter": "LeftDelim",
        "right_delimiter": "RightDelim",
        "error_on_missing_key": "ErrMissingKey",
        "uid": "Uid",
        "gid": "Gid",
    },
    durations=_d("splay", "vault_grace"),
    blocks={
        "wait": BlockSpec("Wait", durations=_d("min", "max")),
        "change_script": BlockSpec("ChangeScript", durations=_d("timeout")),
    },
)

ARTIFACT = BlockSpec(
    "Artifacts",
    many=True,
    rename={
        "source": "GetterSource",
        "destination": "RelativeDest",
        "mode": "GetterMode",
        "insecure": "GetterInsecure",
        "options": "GetterOptions",
        "headers": "GetterHeaders",
    },
    # `options`/`headers` are maps whose JSON names carry the Getter prefix.
    string_maps=_d("options", "headers"),
)

IDENTITY_DURATIONS = _d("ttl")

TASK = BlockSpec(
    "Tasks",
    label="Name",
    many=True,
    durations=_d("kill_timeout", "shutdown_delay"),
    maps=_d("config"),
    string_maps=_d("env", "meta"),
    blocks={
        "resources": RESOURCES,
        "service": SERVICE,
        "constraint": CONSTRAINT,
        "affinity": AFFINITY,
        "artifact": ARTIFACT,
        "template": TEMPLATE,
        "logs": BlockSpec("LogConfig", rename={"max_file_size": "MaxFileSizeMB"}),
        "restart": RESTART,
        "lifecycle": BlockSpec("Lifecycle"),
        "dispatch_payload": BlockSpec("DispatchPayload"),
        "vault": VAULT,
        "volume_mount": BlockSpec(
            "VolumeMounts", many=True, rename={"selinux_label": "SELinuxLabel"}
        ),
        "csi_plugin": BlockSpec(
            "CSIPluginConfig", rename={"id": "ID"}, durations=_d("health_timeout")
        ),
        "action": BlockSpec("Actions", label="Name", many=True),
        "secret": BlockSpec("Secrets", label="Name", many=True),
        "scaling": BlockSpec("ScalingPolicies", label="Type", many=True),
    },
)

GROUP = BlockSpec(
    "TaskGroups",
    label="Name",
    many=True,
    durations=_d(
        "shutdown_delay",
        "max_client_disconnect",
        "stop_after_client_disconnect",
        "max_run_duration",
    ),
    string_maps=_d("meta"),
    blocks={
        "task": TASK,
        "constraint": CONSTRAINT,
        "affinity": AFFINITY,
        "spread": SPREAD,
        "network": NETWORK,
        "service": SERVICE,
        "restart": RESTART,
        "reschedule": RESCHEDULE,
        "update": UPDATE,
        "migrate": MIGRATE,
        "ephemeral_disk": EPHEMERAL_DISK,
        "volume": BlockSpec(
            "Volumes",
            label="Name",
            keyed=True,
            blocks={"mount_options": BlockSpec("MountOptions", rename={"fs_type": "FSType"})},
        ),
        "scaling": BlockSpec("Scaling", label="Type"),
        "vault": VAULT,
        "disconnect": BlockSpec("Disconnect", durations=_d("lost_after", "stop_on_client_after")),
    },
)

JOB = BlockSpec(
    "Job",
    label="ID",
    string_maps=_d("meta"),
    blocks={
        "group": GROUP,
        "constraint": CONSTRAINT,
        "affinity": AFFINITY,
        "spread": SPREAD,
        "update": UPDATE,
        "migrate": MIGRATE,
        "reschedule": RESCHEDULE,
        "periodic": BlockSpec("Periodic", rename={"cron": "Spec", "crons": "Specs"}),
        "parameterized": BlockSpec("ParameterizedJob"),
        "multiregion": BlockSpec(
            "Multiregion",
            blocks={
                "strategy": BlockSpec("Strategy"),
                "region": BlockSpec("Regions", label="Name", many=True, string_maps=_d("meta")),
            },
        ),
        "vault": VAULT,
    },
)

# API names of map-valued fields that JSON key normalisation must leave alone.
FREE_FORM_KEYS = frozenset(
    {
        "Config",
        "Env",
        "Meta",
        "CanaryMeta",
        "TaggedAddresses",
        "Header",
        "GetterOptions",
        "GetterHeaders",
        "Volumes",
        "Policy",
    }
)
