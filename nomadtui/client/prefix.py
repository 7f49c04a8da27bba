"""Resolution of the short IDs and prefixes users type into full objects.

Jobs match by plain string prefix (an exact ID wins). UUID-keyed objects
(allocations, nodes, evaluations, deployments) are looked up with an even number of hex
digits, as the server hex-decodes the prefix, then filtered by what the user
actually typed. Ambiguity is an error that lists the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.errors import NotFound, ValidationError

from .sync import NomadClient

MIN_UUID_PREFIX = 2
_MAX_LISTED = 10


class AmbiguousPrefix(ValidationError):
    """A prefix that matched more than one object; `matches` holds their IDs."""

    def __init__(self, kind: str, prefix: str, matches: list[str]) -> None:
        shown = ", ".join(matches[:_MAX_LISTED])
        if len(matches) > _MAX_LISTED:
            shown += f", ... ({len(matches)} in all)"
        super().__init__(f'Prefix "{prefix}" matched multiple {kind}: {shown}')
        self.matches = matches


def sanitize_uuid_prefix(prefix: str) -> str:
    """Drop a trailing digit so the hex part has even length (hyphens ignored)."""
    digits = len(prefix) - prefix.count("-")
    return prefix if digits % 2 == 0 else prefix[:-1]


def resolve_job(client: NomadClient, prefix: str) -> dict[str, Any]:
    """The JobListStub whose ID is `prefix`, or the single one it prefixes."""
    jobs: list[dict[str, Any]] = client.jobs(prefix=prefix).data or []
    exact = [j for j in jobs if j.get("ID") == prefix]
    if len(exact) == 1:
        return exact[0]
    candidates = exact or jobs
    if not candidates:
        raise NotFound(f'No job(s) with prefix or id "{prefix}" found')
    if len(candidates) > 1:
        many_ns = len({j.get("Namespace") for j in candidates}) > 1
        names = [
            f"{j.get('Namespace')}/{j.get('ID')}" if many_ns else str(j.get("ID"))
            for j in candidates
        ]
        raise AmbiguousPrefix("jobs", prefix, names)
    return candidates[0]


def _resolve_uuid(
    kind: str, noun: str, prefix: str, lister: Callable[[str], Any]
) -> dict[str, Any]:
    if len(prefix) < MIN_UUID_PREFIX:
        raise ValidationError("Identifier must contain at least two characters.")
    found: list[dict[str, Any]] = lister(sanitize_uuid_prefix(prefix)).data or []
    matches = [o for o in found if str(o.get("ID", "")).startswith(prefix)]
    if not matches:
        raise NotFound(f'No {noun} with prefix or id "{prefix}" found')
    if len(matches) > 1:
        exact = [o for o in matches if o.get("ID") == prefix]
        if exact:
            return exact[0]
        raise AmbiguousPrefix(kind, prefix, [str(o.get("ID", ""))[:8] for o in matches])
    return matches[0]


def resolve_alloc(client: NomadClient, prefix: str) -> dict[str, Any]:
    """The AllocListStub for a short or full allocation ID."""
    return _resolve_uuid("allocations", "allocation(s)", prefix, client.allocations)


def resolve_node(client: NomadClient, prefix: str) -> dict[str, Any]:
    """The NodeListStub for a short or full node ID."""
    return _resolve_uuid("nodes", "node(s)", prefix, client.nodes)


def resolve_eval(client: NomadClient, prefix: str) -> dict[str, Any]:
    """The Evaluation for a short or full evaluation ID."""
    return _resolve_uuid("evaluations", "evaluation(s)", prefix, client.evaluations)


def resolve_deployment(client: NomadClient, prefix: str) -> dict[str, Any]:
    """The Deployment for a short or full deployment ID."""
    return _resolve_uuid("deployments", "deployment(s)", prefix, client.deployments)
