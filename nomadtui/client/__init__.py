"""HTTP API client for Nomad-compatible control planes (ours or real Nomad).

    NomadClient          sync client: generic verbs + endpoint methods
    Response             decoded body + X-Nomad-Index / KnownLeader / LastContact
    AgentUnreachable     no HTTP response (subclass of controlplane NomadError)
    TLSConfig            CA / client certificate / skip-verify (NOMAD_CACERT, ...)
    StreamFrame          one decoded log frame; FrameDecoder decodes a stream
    resolve_*            short-ID / prefix resolution; AmbiguousPrefix on clashes

HTTP errors are raised as `controlplane.errors` classes (NotFound, ...).
"""

from .core import (
    DEFAULT_ADDRESS,
    AgentUnreachable,
    ClientConfig,
    Response,
    TLSConfig,
    one_line,
)
from .frames import FrameDecoder, StreamFrame
from .prefix import (
    AmbiguousPrefix,
    resolve_alloc,
    resolve_deployment,
    resolve_eval,
    resolve_job,
    resolve_node,
    sanitize_uuid_prefix,
)
from .sync import NomadClient

__all__ = [
    "DEFAULT_ADDRESS",
    "AgentUnreachable",
    "AmbiguousPrefix",
    "ClientConfig",
    "FrameDecoder",
    "NomadClient",
    "Response",
    "StreamFrame",
    "TLSConfig",
    "one_line",
    "resolve_alloc",
    "resolve_deployment",
    "resolve_eval",
    "resolve_job",
    "resolve_node",
    "sanitize_uuid_prefix",
]
