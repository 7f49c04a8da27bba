"""Transport-independent half of the API client: configuration, request shaping,
response metadata and error mapping.

Owns what the sync client (and a future async one) share; does no I/O itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.errors import NomadError, error_for_status

DEFAULT_ADDRESS = "http://127.0.0.1:4646"

# Blocking queries may be held up to `wait` plus a jitter of wait/16 by the
# server; the HTTP read timeout must outlast that.
_BLOCKING_SLACK_S = 5.0


class AgentUnreachable(NomadError):
    """No HTTP response at all: connection refused, DNS failure, timeout."""

    status = 0

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"no nomadtui agent at {address} ({reason})")
        self.address = address
        self.reason = reason


@dataclass(frozen=True)
class ClientConfig:
    """Where and as whom to talk; unset values come from NOMAD_* variables."""

    address: str = DEFAULT_ADDRESS
    token: str | None = None
    namespace: str | None = None
    region: str | None = None
    timeout: float = 30.0

    @classmethod
    def resolve(
        cls,
        address: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        region: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        env = os.environ if env is None else env
        addr = address or env.get("NOMAD_ADDR") or DEFAULT_ADDRESS
        if "://" not in addr:
            addr = "http://" + addr
        return cls(
            address=addr.rstrip("/"),
            token=token or env.get("NOMAD_TOKEN") or None,
            namespace=namespace or env.get("NOMAD_NAMESPACE") or None,
            region=region or env.get("NOMAD_REGION") or None,
            timeout=timeout,
        )

    def headers(self) -> dict[str, str]:
        return {"X-Nomad-Token": self.token} if self.token else {}

    def params(self, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Query parameters: namespace/region defaults, then `extra` (which wins).

        `None` values in `extra` are dropped; booleans are sent as Go's
        `strconv.ParseBool` spells them.
        """
        out: dict[str, str] = {}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.region:
            out["region"] = self.region
        for key, value in (extra or {}).items():
            if value is None:
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out


@dataclass(frozen=True)
class Response:
    """A decoded JSON body plus the blocking-query metadata headers."""

    data: Any
    index: int = 0
    known_leader: bool = False
    last_contact: int = 0
    next_token: str | None = None


def blocking_params(index: int | None, wait: float | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if index:
        params["index"] = str(index)
    if wait is not None:
        params["wait"] = f"{max(int(wait * 1000), 1)}ms"
    return params


def read_timeout(base: float, wait: float | None, index: int | None) -> float:
    if not index:
        return base
    # Server default wait is 300 s when the caller gives none.
    hold = 300.0 if wait is None else wait
    return max(base, hold + hold / 16 + _BLOCKING_SLACK_S)


def _int_header(headers: Mapping[str, str], name: str) -> int:
    try:
        return int(headers.get(name, "0") or 0)
    except ValueError:
        return 0


def response_meta(data: Any, headers: Mapping[str, str]) -> Response:
    return Response(
        data=data,
        index=_int_header(headers, "X-Nomad-Index"),
        known_leader=headers.get("X-Nomad-KnownLeader", "").lower() == "true",
        last_contact=_int_header(headers, "X-Nomad-LastContact"),
        next_token=headers.get("X-Nomad-NextToken") or None,
    )


_MULTIERROR_HEAD = re.compile(r"^\d+ errors? occurred:\s*$")


def one_line(text: str) -> str:
    """Flatten a server message (Go multierror lists included) onto one line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and _MULTIERROR_HEAD.match(lines[0]):
        lines = lines[1:]
    items = [ln[2:] if ln.startswith("* ") else ln for ln in lines]
    return "; ".join(items)


def raise_for_status(status: int, body: str) -> None:
    if 200 <= status < 300:
        return
    message = one_line(body) or f"Unexpected response code: {status}"
    raise error_for_status(status, message)


def describe_transport_error(exc: BaseException) -> str:
    """A short lower-case reason for a transport failure ("connection refused")."""
    text = str(exc) or type(exc).__name__
    errno_text = re.search(r"\[Errno -?\d+\]\s*(.+)", text)
    if errno_text:
        text = errno_text.group(1)
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "unreachable"
