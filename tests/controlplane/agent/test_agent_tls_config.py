"""Agent transport-security settings: the `tls {}` block and `server { encrypt }`
in HCL, the -tls-* / -encrypt flags, and refusals of unusable settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from controlplane.agent import tls_certs
from controlplane.agent.cli import build_parser, config_from_args
from controlplane.agent.config import AgentConfig
from controlplane.errors import ValidationError


def _cfg(*argv: str) -> AgentConfig:
    return config_from_args(build_parser().parse_args(list(argv)))


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, str]:
    ca = tls_certs.create_ca()
    server = tls_certs.create_cert(ca, "server")
    files = {"ca": ca.cert, "cert": server.cert, "key": server.key}
    for name, data in files.items():
        (tmp_path / f"{name}.pem").write_bytes(data)
    return {name: str(tmp_path / f"{name}.pem") for name in files}


def test_tls_block_and_encrypt_from_the_config_file(
    tmp_path: Path, certs: dict[str, str]
) -> None:
    key = tls_certs.gossip_key()
    conf = tmp_path / "agent.hcl"
    conf.write_text(
        f'data_dir = "{tmp_path}"\n'
        f'server {{\n  enabled = true\n  encrypt = "{key}"\n}}\n'
        f'tls {{\n  http = true\n  ca_file = "{certs["ca"]}"\n'
        f'  cert_file = "{certs["cert"]}"\n  key_file = "{certs["key"]}"\n'
        f"  verify_https_client = true\n}}\n"
    )
    cfg = _cfg("-config", str(conf))
    cfg.check()
    assert cfg.encrypt == key
    assert (cfg.tls.http, cfg.tls.verify_https_client) == (True, True)
    assert (cfg.tls.ca_file, cfg.tls.cert_file, cfg.tls.key_file) == (
        certs["ca"], certs["cert"], certs["key"]
    )
    assert cfg.tls.url("10.0.0.1:4646") == "https://10.0.0.1:4646"
    kwargs = cfg.tls.uvicorn_kwargs()
    assert kwargs["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert kwargs["ssl_ca_certs"] == certs["ca"]
    # /v1/agent/self says whether a key is set, never the key
    public = cfg.public()
    assert public["encrypt"] is True
    assert key not in repr(public)


def test_flags_enable_tls_and_encryption(certs: dict[str, str]) -> None:
    key = tls_certs.gossip_key()
    cfg = _cfg("-dev", "-tls-ca-file", certs["ca"], "-tls-cert-file", certs["cert"],
               "-tls-key-file", certs["key"], "-tls-verify-https-client", "-encrypt", key)
    cfg.check()
    assert cfg.tls.http and cfg.tls.verify_https_client
    assert cfg.tls.scheme == "https"
    assert cfg.encrypt == key
    # the agent's own calls present its certificate and trust the CA
    ctx = cfg.tls.client_verify()
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    plain = _cfg("-dev")
    assert (plain.tls.scheme, plain.tls.uvicorn_kwargs(), plain.tls.client_verify()) == (
        "http", {}, True
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("-tls-http",), "tls.http requires cert_file and key_file"),
        (("-tls-cert-file", "{cert}", "-tls-key-file", "{key}", "-tls-verify-https-client"),
         "tls.verify_https_client requires ca_file"),
        (("-tls-cert-file", "/nonexistent.pem", "-tls-key-file", "{key}"),
         "tls.cert_file: no such file /nonexistent.pem"),
        (("-tls-cert-file", "{key}", "-tls-key-file", "{key}"), "Failed to load TLS certificates"),
        (("-encrypt", "not base64!"), "Failed to decode encryption key: not base64"),
        (("-encrypt", "c2hvcnQ="), "key size must be 16, 24 or 32 bytes, got 5"),
    ],
)
def test_unusable_settings_are_refused(
    argv: tuple[str, ...], message: str, certs: dict[str, str]
) -> None:
    cfg = _cfg("-dev", *(a.format(**certs) for a in argv))
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        cfg.check()
