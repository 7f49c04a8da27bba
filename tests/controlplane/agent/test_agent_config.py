"""Agent configuration: flags over an HCL config file over defaults; clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.agent.cli import build_parser, config_from_args, serve_main
from controlplane.agent.config import AgentConfig
from controlplane.errors import ValidationError


def _cfg(*argv: str) -> AgentConfig:
    return config_from_args(build_parser().parse_args(list(argv)))


def test_dev_defaults_follow_nomad() -> None:
    cfg = _cfg("-dev")
    cfg.check()
    assert (cfg.http_addr, cfg.rpc_addr) == ("127.0.0.1:4646", "127.0.0.1:4647")
    assert (cfg.region, cfg.datacenter) == ("global", "dc1")


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "agent.hcl"
    conf.write_text(
        'data_dir   = "/var/lib/x"\n'
        'datacenter = "dc7"\n'
        'region     = "eu"\n'
        'ports {\n  http = 5000\n  rpc = 5001\n}\n'
        'server {\n  enabled = true\n  bootstrap_expect = 3\n'
        '  server_join {\n    retry_join = ["127.0.0.1:5101", "127.0.0.1:5201"]\n  }\n}\n'
        'client {\n  enabled = true\n  servers = ["127.0.0.1:5000"]\n'
        '  node_class = "edge"\n  meta {\n    rack = "r1"\n  }\n}\n'
    )
    cfg = _cfg("-config", str(conf), "-dc", "dc9", "-http-port", "6000")
    assert (cfg.server, cfg.client, cfg.data_dir) == (True, True, "/var/lib/x")
    assert (cfg.datacenter, cfg.region) == ("dc9", "eu")
    assert (cfg.http_port, cfg.rpc_port) == (6000, 5001)
    assert cfg.bootstrap_expect == 3
    assert cfg.retry_join == ["127.0.0.1:5101", "127.0.0.1:5201"]
    assert (cfg.servers, cfg.node_class, cfg.meta) == (["127.0.0.1:5000"], "edge", {"rack": "r1"})


def test_csv_flags() -> None:
    cfg = _cfg("-client", "-servers", "127.0.0.1:1, 127.0.0.1:2", "-data-dir", "/tmp/x")
    assert cfg.servers == ["127.0.0.1:1", "127.0.0.1:2"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "Must specify either server, client or dev mode for the agent."),
        (("-client",), "a client needs -servers (the servers' HTTP addresses)"),
        (("-server",), "Must specify data directory (-data-dir) for a server"),
        (("-server", "-data-dir", "/tmp/x", "-bootstrap-expect", "3", "-retry-join",
          "127.0.0.1:5001"),
         "-bootstrap-expect 3 needs the other 2 servers' Raft addresses in -retry-join (got 1)"),
    ],
)
def test_incomplete_configs_are_refused(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        _cfg(*argv).check()
    assert str(err.value) == message


def test_unreadable_config_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_main(["-config", str(tmp_path / "missing.hcl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error starting agent: Error loading configuration from ")
    assert err.count("\n") == 1


def test_broken_config_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "bad.hcl"
    conf.write_text("server {\n  enabled = \n")
    assert serve_main(["-config", str(conf)]) == 1
    err = capsys.readouterr().err
    assert f"Error parsing {conf}" in err and "Traceback" not in err


def test_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert serve_main(["-dev", "-http-port", str(port), "-rpc-port", "0"]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_api_socket_disables_nagle() -> None:
    # regression: without TCP_NODELAY every kept-alive API call waited ~40 ms
    # for the client's delayed ACK
    import socket

    from controlplane.agent.agent import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
