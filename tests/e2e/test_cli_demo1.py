"""The seed's Demo 1, driven through the `nomadtui` CLI as a user would.

A real `nomadtui serve -dev` process (Raft, HTTP, client, real drivers) on
free loopback ports; every step is a CLI subprocess reading NOMAD_ADDR.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.agents import AgentProcess
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    tmp = tmp_path_factory.mktemp("e2e")
    proc = AgentProcess(["-dev", "-data-dir", str(tmp / "data"), "-node", "e2e-node"],
                        tmp / "agent.log", ready=AgentProcess.dev_ready).start()
    try:
        yield proc
    finally:
        proc.stop()


class CLI:
    def __init__(self, address: str, cwd: Path) -> None:
        self.env = dict(os.environ, NOMAD_ADDR=address)
        self.env.pop("NOMAD_TOKEN", None)
        self.cwd = cwd

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [sys.executable, "-m", "nomadtui", *args],
            capture_output=True, text=True, env=self.env, cwd=self.cwd, timeout=120,
        )
        assert "Traceback" not in res.stderr, res.stderr
        if check:
            assert res.returncode == 0, f"{args}: rc={res.returncode}\n{res.stdout}\n{res.stderr}"
        return res


@pytest.fixture
def cli(agent: AgentProcess, tmp_path: Path) -> CLI:
    return CLI(agent.address, tmp_path)


def _alloc_rows(status_output: str) -> list[list[str]]:
    """Rows of the Allocations table of `nomadtui status JOB`."""
    lines = status_output.splitlines()
    start = lines.index("Allocations")
    header = lines[start + 1].split()
    assert header[:4] == ["ID", "Node", "ID", "Task"], lines[start + 1]
    return [line.split() for line in lines[start + 2:] if line.strip()]


def _running_alloc(cli: CLI, job: str) -> str:
    def running() -> str | None:
        out = cli.run("status", job).stdout
        rows = [r for r in _alloc_rows(out) if r[4:6] == ["run", "running"]]
        return rows[0][0] if rows else None

    alloc_id: str = wait_for(running, timeout=60, what=f"a running allocation of {job}")
    assert re.fullmatch(r"[0-9a-f]{8}", alloc_id)
    return alloc_id


def test_cluster_views(cli: CLI) -> None:
    nodes = cli.run("node", "status").stdout
    lines = nodes.splitlines()
    assert lines[0].split() == ["ID", "Node", "Pool", "DC", "Name", "Class", "Drain",
                                "Eligibility", "Status"]
    assert len(lines) == 2
    assert lines[1].split()[1:] == ["default", "dc1", "e2e-node", "<none>", "false",
                                    "eligible", "ready"]
    members = cli.run("server", "members").stdout.splitlines()
    assert members[0].split()[:5] == ["Name", "Address", "Port", "Status", "Leader"]
    assert members[1].split()[3:5] == ["alive", "true"]


def test_job_init_and_validate(cli: CLI) -> None:
    out = cli.run("job", "init").stdout
    assert out.strip() == "Example job file written to example.nomad"
    assert 'image = "redis:3.2"' in (cli.cwd / "example.nomad").read_text()
    again = cli.run("job", "init", check=False)
    assert again.returncode != 0
    assert again.stderr == "Job 'example.nomad' already exists\n"
    assert "Job validation successful" in cli.run("job", "validate", "example.nomad").stdout


def test_demo1_docker_web(cli: CLI, docker_image: str) -> None:
    run = cli.run("job", "run", str(EXAMPLES / "demo1-web.nomad"))
    assert 'Monitoring evaluation "' in run.stdout
    assert 'finished with status "complete"' in run.stdout

    listing = cli.run("status").stdout.splitlines()
    assert listing[0].split() == ["ID", "Type", "Priority", "Status", "Submit", "Date"]
    assert any(line.split()[:4] == ["demo1-web", "service", "50", "running"]
               for line in listing[1:])

    alloc_id = _running_alloc(cli, "demo1-web")
    status = cli.run("status", "demo1-web").stdout
    assert re.search(r"^Status\s+= running$", status, re.M)
    assert "Summary" in status

    alloc = cli.run("alloc", "status", alloc_id).stdout
    assert re.search(r"^Client Status\s+= running$", alloc, re.M)
    assert 'Task "web" is "running"' in alloc
    match = re.search(r"http: (127\.0\.0\.1:\d+)", alloc)
    assert match, alloc
    page = wait_for(lambda: _get(f"http://{match.group(1)}/"), what="httpd answering")
    assert "nomadtui test page" in page

    logs = wait_for(lambda: cli.run("alloc", "logs", alloc_id, "web").stdout,
                    what="web task logs")
    assert logs.startswith(f"serving demo1-web.web[0] on {match.group(1)}")

    cli.run("job", "stop", "demo1-web")

    def stopped() -> bool:
        out = cli.run("status", "demo1-web").stdout
        rows = _alloc_rows(out)
        return bool(re.search(r"^Status\s+= dead \(stopped\)$", out, re.M)) and all(
            r[4:6] == ["stop", "complete"] for r in rows
        )

    wait_for(stopped, timeout=60, what="demo1-web stopped")
    cli.run("job", "stop", "-purge", "demo1-web")
    gone = cli.run("status", "demo1-web", check=False)
    assert gone.returncode == 1
    assert gone.stderr.count("\n") == 1 and gone.stderr.startswith("Error")


def test_demo1_raw_exec(cli: CLI) -> None:
    cli.run("job", "run", str(EXAMPLES / "demo1-exec.nomad"))
    alloc_id = _running_alloc(cli, "demo1-exec")
    logs = wait_for(lambda: cli.run("alloc", "logs", alloc_id).stdout, what="ticker logs")
    assert logs.startswith("started demo1-exec.ticker[0] on ")
    cli.run("job", "stop", "-purge", "demo1-exec")


def test_unplaceable_job_exits_2_and_status_explains(cli: CLI) -> None:
    big = cli.cwd / "big.nomad"
    text = (EXAMPLES / "demo1-exec.nomad").read_text()
    big.write_text(text.replace('"demo1-exec"', '"too-big"').replace("memory = 32",
                                                                       "memory = 99999999"))
    run = cli.run("job", "run", str(big), check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "failed to place all allocations:" in run.stdout
    assert 'Dimension "memory" exhausted on 1 nodes' in run.stdout
    assert "waiting for additional capacity to place remainder" in run.stdout
    status = cli.run("status", "too-big").stdout
    section = status[status.index("Placement Failure"):]
    assert section.splitlines()[1:4] == [
        'Task Group "ticker":',
        "  * Resources exhausted on 1 nodes",
        '  * Dimension "memory" exhausted on 1 nodes',
    ]
    assert re.search(r"^ticker\s+1\s+0\s+0\s+0\s+0\s+0\s+0$", status, re.M), status
    cli.run("job", "stop", "-purge", "too-big")


def test_bad_job_file_is_one_located_error(cli: CLI, agent: AgentProcess) -> None:
    bad = cli.cwd / "bad.nomad"
    bad.write_text(
        'job "bad" {\n  group "cache" {\n    count = -1\n    task "t" {\n'
        '      driver = "raw_exec"\n    }\n  }\n}\n'
    )
    res = cli.run("job", "run", str(bad), check=False)
    assert res.returncode != 0
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error")
    assert f'{bad}:3: group "cache": count must be >= 0' in res.stderr
    jobs = httpx.get(f"{agent.address}/v1/jobs").json()
    assert all(j["ID"] != "bad" for j in jobs)


def test_unreachable_agent_is_one_line(tmp_path: Path) -> None:
    cli = CLI("http://127.0.0.1:1", tmp_path)
    res = cli.run("status", check=False)
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error")
    assert "127.0.0.1:1" in res.stderr


def _get(url: str) -> str | None:
    try:
        r = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return r.text if r.status_code == 200 else None
