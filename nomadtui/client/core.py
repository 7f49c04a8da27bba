"""Transport-independent half of the API client: configuration, request shaping,
response metadata and error mapping.

Owns what the sync client (and a future async one) share; does no I/O itself.
"""

from __future__ import annotations

import functools
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controlplane.errors import NomadError, ValidationError, error_for_status

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


_TRUE = ("1", "t", "true", "yes")


@dataclass(frozen=True)
class TLSConfig:
    """How to verify the agent and whom to present as (Nomad's NOMAD_CACERT,
    NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_SKIP_VERIFY)."""

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    skip_verify: bool = False

    @classmethod
    def resolve(
        cls,
        ca_cert: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        skip_verify: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TLSConfig:
        """Flags first, then NOMAD_* variables."""
        env = os.environ if env is None else env
        if skip_verify is None:
            skip_verify = env.get("NOMAD_SKIP_VERIFY", "").strip().lower() in _TRUE
        return cls(
            ca_cert=ca_cert or env.get("NOMAD_CACERT") or None,
            client_cert=client_cert or env.get("NOMAD_CLIENT_CERT") or None,
            client_key=client_key or env.get("NOMAD_CLIENT_KEY") or None,
            skip_verify=skip_verify,
        )

    def verify(self) -> ssl.SSLContext | bool:
        """httpx `verify=`: True (system trust) unless something is configured.

        Raises ValidationError naming the file when one cannot be loaded.
        """
        if not (self.ca_cert or self.client_cert or self.skip_verify):
            return True
        return _ssl_context(self)


@functools.lru_cache(maxsize=8)
def _ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    # cached: the console builds a client per namespace switch and stream
    try:
        ctx = ssl.create_default_context(cafile=tls.ca_cert)
    except (OSError, ssl.SSLError) as exc:
        raise ValidationError(
            f"cannot load CA certificate {tls.ca_cert}: {_ssl_reason(exc)}"
        ) from None
    if tls.skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.client_cert:
        try:
            ctx.load_cert_chain(tls.client_cert, tls.client_key or None)
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(
                f"cannot load client certificate {tls.client_cert}: {_ssl_reason(exc)}"
            ) from None
    elif tls.client_key:
        raise ValidationError("a client key (NOMAD_CLIENT_KEY) needs a client certificate")
    return ctx


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ssl.SSLError):
        return exc.strerror.lower()
    return describe_transport_error(exc)


@dataclass(frozen=True)
class ClientConfig:
    """Where and as whom to talk; unset values come from NOMAD_* variables."""

    address: str = DEFAULT_ADDRESS
    token: str | None = None
    namespace: str | None = None
    region: str | None = None
    timeout: float = 30.0
    tls: TLSConfig = field(default_factory=TLSConfig)

    @classmethod
    def resolve(
        cls,
        address: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        region: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        tls: TLSConfig | None = None,
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
            tls=tls if tls is not None else TLSConfig.resolve(env=env),
        )

    def verify(self) -> ssl.SSLContext | bool:
        """httpx `verify=` for this agent address (TLSConfig.verify)."""
        return self.tls.verify()

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
    tls = re.search(r"\[SSL: [A-Z_]+\]\s*([^(]+)", text)
    if tls or isinstance(exc, ssl.SSLError) or "SSL" in text or "TLS" in text:
        reason = tls.group(1).strip().rstrip(".") if tls else text
        return f"TLS handshake failed: {reason}"
    errno_text = re.search(r"\[Errno -?\d+\]\s*(.+)", text)
    if errno_text:
        text = errno_text.group(1)
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "unreachable"
