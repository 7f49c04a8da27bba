"""Transport security of one agent: TLS on its HTTP API, the TLS settings of
the agent's own outgoing calls (follower -> leader forwarding, client RPC to
the servers, server -> client-agent proxying), and the Raft encryption key.

Checks and loads files; never generates certificates (tls_certs.py does).
Addresses stay host:port everywhere; the scheme comes from this config.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.errors import ValidationError

ENCRYPT_KEY_SIZES = (16, 24, 32)


@dataclass
class TLSConfig:
    """Nomad's agent `tls {}` block (the HTTP part)."""

    http: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    verify_https_client: bool = False

    @property
    def scheme(self) -> str:
        return "https" if self.http else "http"

    def url(self, addr: str) -> str:
        """The base URL of an agent's HTTP API at `addr` (host:port)."""
        return f"{self.scheme}://{addr}"

    def check(self) -> None:
        if not self.http:
            return
        if not (self.cert_file and self.key_file):
            raise ValidationError("tls.http requires cert_file and key_file")
        if self.verify_https_client and not self.ca_file:
            raise ValidationError("tls.verify_https_client requires ca_file")
        for what, path in (
            ("ca_file", self.ca_file),
            ("cert_file", self.cert_file),
            ("key_file", self.key_file),
        ):
            if path and not Path(path).is_file():
                raise ValidationError(f"tls.{what}: no such file {path}")
        # load once now: a bad file must stop the agent, not its first request
        try:
            self.client_verify()
        except ssl.SSLError as exc:
            raise ValidationError(f"Failed to load TLS certificates: {exc}") from None

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """uvicorn.Config arguments for serving HTTPS ({} for plain HTTP)."""
        if not self.http:
            return {}
        kwargs: dict[str, Any] = {
            "ssl_certfile": self.cert_file,
            "ssl_keyfile": self.key_file,
        }
        if self.ca_file:
            kwargs["ssl_ca_certs"] = self.ca_file
        if self.verify_https_client:
            kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return kwargs

    def client_verify(self) -> ssl.SSLContext | bool:
        """httpx `verify=` for this agent's calls to other agents.

        Presents the agent's own certificate (servers requiring client
        certificates accept it) and trusts the cluster CA. Peers are reached
        by IP, and a certificate names its role (server.global.nomad), not an
        address: like Nomad's RPC without verify_server_hostname, the CA
        signature is what is checked, not the host name.
        """
        if not self.http:
            return True
        return _client_context(self.ca_file, self.cert_file, self.key_file)


@functools.lru_cache(maxsize=8)
def _client_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    # one context per file set: loading a chain per request would cost ms each
    ctx = ssl.create_default_context(cafile=ca_file or None)
    if ca_file:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def check_encrypt_key(key: str) -> None:
    """A Raft encryption key is base64 of 16, 24 or 32 bytes (as Nomad's)."""
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            "Failed to decode encryption key: not base64 "
            "(generate one with 'nomadtui operator gossip keyring generate')"
        ) from None
    if len(raw) not in ENCRYPT_KEY_SIZES:
        raise ValidationError(
            f"Failed to decode encryption key: key size must be 16, 24 or 32 bytes, got {len(raw)}"
        )
