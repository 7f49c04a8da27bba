"""`nomadtui tls ca create`, `tls cert create` and `operator gossip keyring
generate`: write a CA, agent certificates and a Raft encryption key, with
Nomad's file names and messages.

Owns files and output only; the certificates are made by
controlplane/agent/tls_certs.py. Never overwrites an existing file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from controlplane.agent import tls_certs
from controlplane.errors import ValidationError

from .context import CommandError, Context

SERVER_WARNING = """==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys."""


def _write_new(path: str, data: bytes, mode: int) -> None:
    """Write atomically with `mode`; the file must not exist yet."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # link, not rename: fails instead of replacing a file created meanwhile
        os.link(tmp, target)
    except FileExistsError:
        raise CommandError(f"Error: file '{path}' already exists") from None
    except OSError as err:
        raise CommandError(f"Error: writing {path}: {err.strerror}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def run_ca_create(ctx: Context) -> int:
    args = ctx.args
    domain = args.domain or tls_certs.DEFAULT_DOMAIN
    cert_file, key_file = tls_certs.ca_file_names(domain)
    if Path(cert_file).exists():
        raise CommandError(f"CA certificate file '{cert_file}' already exists")
    if Path(key_file).exists():
        raise CommandError(f"CA key file '{key_file}' already exists")
    try:
        ca = tls_certs.create_ca(days=args.days, domain=domain, common_name=args.common_name or "")
    except ValidationError as err:
        raise CommandError(err.message) from None
    _write_new(cert_file, ca.cert, 0o644)
    ctx.out(f"==> CA certificate saved to: {cert_file}")
    _write_new(key_file, ca.key, 0o600)
    ctx.out(f"==> CA certificate key saved to: {key_file}")
    return 0


def run_cert_create(ctx: Context) -> int:
    args = ctx.args
    roles = [r for r in tls_certs.ROLES if getattr(args, r, False)]
    if len(roles) != 1:
        raise CommandError("Please provide either -server, -client, or -cli")
    role = roles[0]
    env = ctx.runtime.env if ctx.runtime.env is not None else os.environ
    region = getattr(args, "region", None) or env.get("NOMAD_REGION") or "global"
    domain = args.domain or tls_certs.DEFAULT_DOMAIN
    cert_file, key_file = tls_certs.cert_file_names(role, region, domain)
    if Path(cert_file).exists():
        raise CommandError(f"Certificate file '{cert_file}' already exists")
    if Path(key_file).exists():
        raise CommandError(f"Key file '{key_file}' already exists")
    ca_file = args.ca.replace("#DOMAIN#", domain, 1)
    ca_key_file = args.key.replace("#DOMAIN#", domain, 1)
    try:
        ca_pem = Path(ca_file).read_bytes()
    except OSError as err:
        raise CommandError(f"Error reading CA: {err.strerror}: {ca_file}") from None
    try:
        ca_key = Path(ca_key_file).read_bytes()
    except OSError as err:
        raise CommandError(f"Error reading CA key: {err.strerror}: {ca_key_file}") from None
    if role == "server":
        ctx.out(SERVER_WARNING)
    ctx.out(f"==> Using CA file {ca_file} and CA key {ca_key_file}")
    try:
        pair = tls_certs.create_cert(
            tls_certs.PEMPair(ca_pem, ca_key),
            role,
            region=region,
            domain=domain,
            dns_names=args.additional_dnsname or [],
            ip_addresses=args.additional_ipaddress or [],
            days=args.days,
        )
        tls_certs.verify_signed_by(pair.cert, ca_pem)
    except ValidationError as err:
        raise CommandError(f"Error: {err.message}") from None
    label = "Cli" if role == "cli" else role.capitalize()
    _write_new(cert_file, pair.cert, 0o644)
    ctx.out(f"==> {label} Certificate saved to {cert_file}")
    _write_new(key_file, pair.key, 0o600)
    key_label = "CLI" if role == "cli" else label
    ctx.out(f"==> {key_label} Certificate key saved to {key_file}")
    return 0


def run_keyring_generate(ctx: Context) -> int:
    """Print a new key for `server { encrypt }` / `serve -encrypt`."""
    ctx.out(tls_certs.gossip_key())
    return 0
