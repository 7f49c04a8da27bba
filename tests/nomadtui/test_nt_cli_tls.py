"""`nomadtui tls ca create`, `tls cert create` and `operator gossip keyring
generate`: Nomad's file names, messages and SANs; certificates that verify."""

from __future__ import annotations

import base64
import io
import stat
from pathlib import Path

import pytest
from cryptography import x509

from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Runtime(stdout=out, stderr=err, env={}))
    return code, out.getvalue(), err.getvalue()


def _sans(path: Path) -> tuple[str, list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    return str(cn), san.get_values_for_type(x509.DNSName), ips


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_ca_and_certificates_as_nomad_makes_them(in_tmp: Path) -> None:
    code, out, err = _run("tls", "ca", "create")
    assert code == 0, err
    assert out.splitlines() == [
        "==> CA certificate saved to: nomad-agent-ca.pem",
        "==> CA certificate key saved to: nomad-agent-ca-key.pem",
    ]
    assert stat.S_IMODE((in_tmp / "nomad-agent-ca-key.pem").stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate((in_tmp / "nomad-agent-ca.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    code, out, err = _run("tls", "cert", "create", "-server", "-additional-dnsname",
                          "nomad.example.com", "-additional-ipaddress", "10.1.2.3")
    assert code == 0, err
    assert out.splitlines()[0] == "==> WARNING: Server Certificates grants authority to become a"
    assert out.splitlines()[-3:] == [
        "==> Using CA file nomad-agent-ca.pem and CA key nomad-agent-ca-key.pem",
        "==> Server Certificate saved to global-server-nomad.pem",
        "==> Server Certificate key saved to global-server-nomad-key.pem",
    ]
    cn, dns, ips = _sans(in_tmp / "global-server-nomad.pem")
    assert cn == "server.global.nomad"
    assert set(dns) == {"nomad.example.com", "server.global.nomad", "localhost"}
    assert set(ips) == {"10.1.2.3", "127.0.0.1"}

    assert _run("tls", "cert", "create", "-client")[0] == 0
    assert _sans(in_tmp / "global-client-nomad.pem") == (
        "client.global.nomad", ["client.global.nomad", "localhost"], ["127.0.0.1"]
    )
    code, out, _ = _run("tls", "cert", "create", "-cli")
    assert "==> Cli Certificate saved to global-cli-nomad.pem" in out
    assert _sans(in_tmp / "global-cli-nomad.pem") == (
        "cli.global.nomad", ["cli.global.nomad", "localhost"], []
    )
    for name in ("server", "client", "cli"):
        cert = x509.load_pem_x509_certificate((in_tmp / f"global-{name}-nomad.pem").read_bytes())
        cert.verify_directly_issued_by(ca)  # raises unless signed by the CA
        assert stat.S_IMODE((in_tmp / f"global-{name}-nomad-key.pem").stat().st_mode) == 0o600


def test_region_names_the_files_and_the_sans(in_tmp: Path) -> None:
    assert _run("tls", "ca", "create")[0] == 0
    code, out, err = _run("tls", "cert", "create", "-server", "-region", "eu")
    assert code == 0, err
    assert "==> Server Certificate saved to eu-server-nomad.pem" in out
    cn, dns, _ = _sans(in_tmp / "eu-server-nomad.pem")
    assert cn == "server.eu.nomad"
    assert set(dns) == {"server.eu.nomad", "server.global.nomad", "localhost"}


def test_refusals(in_tmp: Path) -> None:
    code, _, err = _run("tls", "cert", "create", "-client")
    assert code == 1
    assert err.startswith("Error reading CA: No such file or directory: nomad-agent-ca.pem")
    assert _run("tls", "ca", "create")[0] == 0
    code, _, err = _run("tls", "ca", "create")
    assert (code, err) == (1, "CA certificate file 'nomad-agent-ca.pem' already exists\n")
    code, _, err = _run("tls", "cert", "create")
    assert (code, err) == (1, "Please provide either -server, -client, or -cli\n")
    code, _, err = _run("tls", "cert", "create", "-server", "-client")
    assert (code, err) == (1, "Please provide either -server, -client, or -cli\n")
    assert _run("tls", "cert", "create", "-cli")[0] == 0
    code, _, err = _run("tls", "cert", "create", "-cli")
    assert (code, err) == (1, "Certificate file 'global-cli-nomad.pem' already exists\n")
    code, _, err = _run("tls", "cert", "create", "-client", "-additional-ipaddress", "nope")
    assert code == 1 and "invalid -additional-ipaddress" in err
    assert not (in_tmp / "global-client-nomad.pem").exists()


@pytest.mark.parametrize("argv", [("operator", "gossip", "keyring", "generate"),
                                  ("operator", "keygen")])
def test_keyring_generate_prints_a_32_byte_key(argv: tuple[str, ...]) -> None:
    code, out, _ = _run(*argv)
    assert code == 0
    key = out.strip()
    assert len(base64.b64decode(key, validate=True)) == 32
    assert _run(*argv)[1].strip() != key
