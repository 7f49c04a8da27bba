"""ACLs: what a token may do, as Nomad's ACL system decides it.

`ACL` is the compiled, immutable answer for one token: the HTTP layer asks
it yes/no questions (`allow_namespace_operation(ns, "submit-job")`,
`allow_node_read()`, ...). `MANAGEMENT` allows everything: it is what a
management token gets, and what every request gets when ACLs are disabled.
The policy language (HCL rules -> ACL) lives in policy.py / compile.py; token
resolution (secret -> ACL, anonymous policy, expiry, caching) in resolve.py.
Nothing here does I/O.
"""

from __future__ import annotations

from .capabilities import (
    ALLOC_LIFECYCLE,
    DISPATCH_JOB,
    LIST_JOBS,
    PARSE_JOB,
    READ_FS,
    READ_JOB,
    READ_JOB_SCALING,
    READ_LOGS,
    SCALE_JOB,
    SUBMIT_JOB,
)
from .compile import compile_acl
from .model import ACL, EMPTY, MANAGEMENT
from .policy import Policy, parse
from .resolve import ACLResolver

__all__ = [
    "ACL",
    "ALLOC_LIFECYCLE",
    "DISPATCH_JOB",
    "EMPTY",
    "LIST_JOBS",
    "MANAGEMENT",
    "PARSE_JOB",
    "READ_FS",
    "READ_JOB",
    "READ_JOB_SCALING",
    "READ_LOGS",
    "SCALE_JOB",
    "SUBMIT_JOB",
    "ACLResolver",
    "Policy",
    "compile_acl",
    "parse",
]
