"""Certificate authority and agent certificates as `nomad tls` makes them.

Generates an ECDSA P-256 CA and server / client / cli certificates signed by
it, with Nomad's names (`server.<region>.nomad`, ...), SANs and file names.
Pure generation and PEM encoding; writing files and printing is the CLI's
job (nomadtui/cli/tls.py), loading them for a listener the agent's.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controlplane.errors import ValidationError

Role = Literal["server", "client", "cli"]
ROLES: tuple[Role, ...] = ("server", "client", "cli")

CA_DAYS = 5 * 365
CERT_DAYS = 365
DEFAULT_DOMAIN = "nomad"
DEFAULT_REGION = "global"


@dataclass(frozen=True)
class PEMPair:
    cert: bytes
    key: bytes


def ca_file_names(domain: str = DEFAULT_DOMAIN) -> tuple[str, str]:
    """(certificate, key) file names of `tls ca create`."""
    return f"{domain}-agent-ca.pem", f"{domain}-agent-ca-key.pem"


def cert_file_names(
    role: Role, region: str = DEFAULT_REGION, domain: str = DEFAULT_DOMAIN
) -> tuple[str, str]:
    """(certificate, key) file names of `tls cert create -<role>`."""
    prefix = f"{region}-{role}-{domain}"
    return f"{prefix}.pem", f"{prefix}-key.pem"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_ca(days: int = CA_DAYS, domain: str = DEFAULT_DOMAIN, common_name: str = "") -> PEMPair:
    """A self-signed CA (Nomad's subject: "Nomad Agent CA <serial>")."""
    if days <= 0:
        raise ValidationError("Number of days must be greater than 0")
    key = ec.generate_private_key(ec.SECP256R1())
    serial = x509.random_serial_number()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or f"Nomad Agent CA {serial}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp Inc."),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Nomad"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return PEMPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def cert_names(
    role: Role,
    region: str = DEFAULT_REGION,
    domain: str = DEFAULT_DOMAIN,
    dns_names: list[str] | None = None,
    ip_addresses: list[str] | None = None,
) -> tuple[str, list[str], list[str]]:
    """(common name, DNS SANs, IP SANs) as Nomad's `recordPreparation` picks them."""
    name = f"{role}.{region}.{domain}"
    region_name = f"{role}.{region}.nomad"
    dns = [d.strip() for d in dns_names or [] if d.strip()]
    ips = [i.strip() for i in ip_addresses or [] if i.strip()]
    if region != "global" and domain != "nomad":
        dns += [name, region_name, f"{role}.global.nomad", "localhost"]
    elif region != "global":
        dns += [region_name, f"{role}.global.nomad", "localhost"]
    elif domain != "nomad":
        dns += [region_name, name, "localhost"]
    else:
        dns += [name, "localhost"]
    if role in ("server", "client"):
        ips.append("127.0.0.1")
    return name, list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def create_cert(
    ca: PEMPair,
    role: Role,
    region: str = DEFAULT_REGION,
    domain: str = DEFAULT_DOMAIN,
    dns_names: list[str] | None = None,
    ip_addresses: list[str] | None = None,
    days: int = CERT_DAYS,
) -> PEMPair:
    """A certificate for `role`, signed by `ca`; usable as server and client cert."""
    if role not in ROLES:
        raise ValidationError("Please provide either -server, -client, or -cli")
    if days <= 0:
        raise ValidationError("Number of days must be greater than 0")
    try:
        ca_cert = x509.load_pem_x509_certificate(ca.cert)
        ca_key = serialization.load_pem_private_key(ca.key, password=None)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"Error reading CA: {exc}") from None
    # a CA made elsewhere (openssl, Vault) is often RSA; it signs just as well
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValidationError("Error reading CA key: unsupported key type")
    name, dns, ips = cert_names(role, region, domain, dns_names, ip_addresses)
    try:
        ip_objs = [ipaddress.ip_address(i) for i in ips]
    except ValueError as exc:
        raise ValidationError(f"invalid -additional-ipaddress: {exc}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in dns] + [x509.IPAddress(i) for i in ip_objs]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return PEMPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def verify_signed_by(cert_pem: bytes, ca_pem: bytes) -> None:
    """Raise ValidationError unless `cert_pem` was issued and signed by `ca_pem`."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ValidationError("certificate is not signed by the CA") from None


def gossip_key() -> str:
    """A random 32-byte key, base64 (`operator gossip keyring generate`)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()
