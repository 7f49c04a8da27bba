"""TLS on the HTTP API with real agents: client certificates required, the CLI's
NOMAD_CACERT / -ca-cert settings, and agent-to-agent calls (client RPC,
follower -> leader forwarding, log proxying) all over HTTPS."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from controlplane.agent import tls_certs
from controlplane.agent.agent import Agent
from controlplane.agent.tls import TLSConfig
from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main
from nomadtui.client import AgentUnreachable, NomadClient
from nomadtui.client import TLSConfig as CLITLS
from tests.agents import AgentProcess, in_process_agent
from tests.cluster_support import start_servers
from tests.job_support import raw_exec_job
from tests.waiting import wait_for


@dataclass(frozen=True)
class Certs:
    ca: Path
    files: dict[str, tuple[Path, Path]]  # role -> (cert, key)

    def agent_flags(self, role: tls_certs.Role) -> list[str]:
        cert, key = self.files[role]
        return [
            "-tls-ca-file",
            str(self.ca),
            "-tls-cert-file",
            str(cert),
            "-tls-key-file",
            str(key),
            "-tls-verify-https-client",
        ]

    def cli_env(self) -> dict[str, str]:
        cert, key = self.files["cli"]
        return {
            "NOMAD_CACERT": str(self.ca),
            "NOMAD_CLIENT_CERT": str(cert),
            "NOMAD_CLIENT_KEY": str(key),
        }


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("tls")
    ca = tls_certs.create_ca()
    (d / "ca.pem").write_bytes(ca.cert)
    files = {}
    for role in tls_certs.ROLES:
        pair = tls_certs.create_cert(ca, role)
        cert, key = d / f"{role}.pem", d / f"{role}-key.pem"
        cert.write_bytes(pair.cert)
        key.write_bytes(pair.key)
        files[role] = (cert, key)
    return Certs(d / "ca.pem", files)


@pytest.fixture(scope="module")
def tls_agent(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    cert, key = certs.files["server"]
    tls = TLSConfig(
        http=True,
        ca_file=str(certs.ca),
        cert_file=str(cert),
        key_file=str(key),
        verify_https_client=True,
    )
    data_dir = str(tmp_path_factory.mktemp("tls-agent"))
    with in_process_agent(node_name="tls-node", data_dir=data_dir, tls=tls) as agent:
        yield agent


def test_a_caller_without_a_client_certificate_is_refused(tls_agent: Agent, certs: Certs) -> None:
    url = f"https://{tls_agent.config.http_addr}/v1/nodes"
    no_cert = CLITLS(ca_cert=str(certs.ca)).verify()
    with pytest.raises(httpx.TransportError):
        httpx.get(url, verify=no_cert, timeout=5)
    # a certificate from another CA is refused as well
    other_ca = tls_certs.create_ca()
    rogue = tls_certs.create_cert(other_ca, "cli")
    d = certs.ca.parent
    (d / "rogue.pem").write_bytes(rogue.cert)
    (d / "rogue-key.pem").write_bytes(rogue.key)
    rogue_tls = CLITLS(str(certs.ca), str(d / "rogue.pem"), str(d / "rogue-key.pem")).verify()
    with pytest.raises(httpx.TransportError):
        httpx.get(url, verify=rogue_tls, timeout=5)

    nodes = httpx.get(url, verify=CLITLS.resolve(env=certs.cli_env()).verify(), timeout=5)
    assert nodes.status_code == 200
    assert [n["Name"] for n in nodes.json()] == ["tls-node"]
    node = httpx.get(
        url.replace("/v1/nodes", f"/v1/node/{nodes.json()[0]['ID']}"),
        verify=CLITLS.resolve(env=certs.cli_env()).verify(),
        timeout=5,
    ).json()
    assert node["TLSEnabled"] is True


def test_the_api_client_uses_nomad_tls_variables(tls_agent: Agent, certs: Certs) -> None:
    https = f"https://{tls_agent.config.http_addr}"
    with NomadClient(https, env=certs.cli_env()) as client:
        assert [n["Name"] for n in client.get("/v1/nodes").data] == ["tls-node"]

    # the agent's certificate is not trusted without the CA
    with NomadClient(https, env={}) as client, pytest.raises(AgentUnreachable) as err:
        client.get("/v1/nodes")
    assert "TLS handshake failed: certificate verify failed" in str(err.value)

    # plain HTTP to the HTTPS port: a clear hint, not a traceback
    plain = f"http://{tls_agent.config.http_addr}"
    with NomadClient(plain, env=certs.cli_env()) as client, pytest.raises(AgentUnreachable) as err:
        client.get("/v1/nodes")
    assert "use an https:// address" in str(err.value)

    # without a client certificate the agent hangs up; the message says what to set
    ca_only = {"NOMAD_CACERT": str(certs.ca)}
    with NomadClient(https, env=ca_only) as client, pytest.raises(AgentUnreachable) as err:
        client.get("/v1/nodes")
    assert "NOMAD_CLIENT_CERT" in str(err.value)


def test_the_cli_takes_tls_flags_and_reports_errors_in_one_line(
    tls_agent: Agent, certs: Certs
) -> None:
    https = f"https://{tls_agent.config.http_addr}"
    cert, key = certs.files["cli"]
    out, errs = io.StringIO(), io.StringIO()
    code = main(
        [
            "node",
            "status",
            "-address",
            https,
            "-ca-cert",
            str(certs.ca),
            "-client-cert",
            str(cert),
            "-client-key",
            str(key),
        ],
        Runtime(stdout=out, stderr=errs, env={}),
    )
    assert code == 0, errs.getvalue()
    assert "tls-node" in out.getvalue()

    out, errs = io.StringIO(), io.StringIO()
    code = main(["node", "status", "-address", https], Runtime(stdout=out, stderr=errs, env={}))
    assert code == 1
    assert errs.getvalue().startswith("Error: no nomadtui agent at https://")
    assert "certificate verify failed" in errs.getvalue()
    assert len(errs.getvalue().splitlines()) == 1

    missing = str(certs.ca.parent / "missing.pem")
    errs = io.StringIO()
    code = main(
        ["node", "status", "-address", https, "-ca-cert", missing],
        Runtime(stdout=io.StringIO(), stderr=errs, env={}),
    )
    assert code == 1
    assert f"cannot load CA certificate {missing}" in errs.getvalue()


def _get(certs: Certs, port: int, path: str, **params: str) -> httpx.Response:
    verify = CLITLS.resolve(env=certs.cli_env()).verify()
    return httpx.get(f"https://127.0.0.1:{port}{path}", params=params, verify=verify, timeout=10)


def test_servers_and_a_client_agent_work_over_tls(certs: Certs, tmp_path: Path) -> None:
    """3 servers and a client agent, all HTTPS with client certificates required.

    The client talks only to a follower: its registration and heartbeats are
    forwarded to the leader; its job's logs are read through a follower,
    which proxies to the client agent.
    """

    def leader_known(agent: AgentProcess) -> bool:
        return bool(_get(certs, agent.http_port, "/v1/status/leader").json())

    procs: list[AgentProcess] = []
    try:
        start_servers(
            tmp_path, 3, extra=certs.agent_flags("server"), ready=leader_known, started=procs
        )
        leader_rpc = _get(certs, procs[0].http_port, "/v1/status/leader").json()
        follower = next(p for p in procs if leader_rpc != f"127.0.0.1:{p.rpc_port}")

        def registered(agent: AgentProcess) -> bool:
            nodes = _get(certs, follower.http_port, "/v1/nodes").json()
            return any(n["Name"] == "tls-worker" and n["Status"] == "ready" for n in nodes)

        client = AgentProcess(
            [
                "-client",
                "-servers",
                f"127.0.0.1:{follower.http_port}",
                "-node",
                "tls-worker",
                "-data-dir",
                str(tmp_path / "client"),
                *certs.agent_flags("client"),
            ],
            tmp_path / "client.log",
            ready=registered,
        )
        procs.append(client)
        client.start()
        verify = CLITLS.resolve(env=certs.cli_env()).verify()
        job = raw_exec_job("tls-job", "echo over-tls; sleep 60")
        r = httpx.put(
            f"https://127.0.0.1:{follower.http_port}/v1/jobs", json=job, verify=verify, timeout=10
        )
        assert r.status_code == 200, r.text

        def running() -> dict[str, object] | None:
            allocs = _get(certs, follower.http_port, "/v1/job/tls-job/allocations").json()
            return next((a for a in allocs if a["ClientStatus"] == "running"), None)

        alloc = wait_for(running, timeout=30, what="the job running on the TLS client")
        node = _get(certs, follower.http_port, f"/v1/node/{alloc['NodeID']}").json()
        assert node["TLSEnabled"] is True
        assert node["HTTPAddr"] == f"127.0.0.1:{client.http_port}"

        def logged() -> str:
            r = _get(
                certs,
                follower.http_port,
                f"/v1/client/fs/logs/{alloc['ID']}",
                task="t",
                type="stdout",
                plain="true",
            )
            assert r.status_code == 200, r.text
            return r.text

        assert wait_for(logged, timeout=10, what="logs through the follower") == "over-tls\n"
        stats = _get(certs, follower.http_port, f"/v1/client/allocation/{alloc['ID']}/stats")
        assert stats.status_code == 200, stats.text
        signal = httpx.put(
            f"https://127.0.0.1:{follower.http_port}/v1/client/allocation/{alloc['ID']}/signal",
            json={"Signal": "SIGCONT", "Task": "t"},
            verify=verify,
            timeout=30,
        )
        assert signal.status_code == 200, signal.text
    finally:
        for p in procs:
            p.kill()
