"""The seed's Demo 2, driven through the `nomadtui` CLI as a user would: three
instances of a web service tagged `urlprefix-/`, and the built-in load
balancer as a system job in front of them.

A real `nomadtui serve -dev` process (Raft, HTTP, client, Docker); every
step is a CLI subprocess reading NOMAD_ADDR; traffic goes through the LB
job's proxy port, and its routing table is read from its UI port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agents import AgentProcess, free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CHECK_INTERVAL_S = 2.0  # examples/demo2-web.nomad
HELLO = re.compile(r"hello from ([0-9a-f-]{36})")


class CLI:
    def __init__(self, address: str, cwd: Path) -> None:
        self.env = dict(os.environ, NOMAD_ADDR=address)
        self.env.pop("NOMAD_TOKEN", None)
        self.cwd = cwd

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [sys.executable, "-m", "nomadtui", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=120,
        )
        assert "Traceback" not in res.stderr, res.stderr
        if check:
            assert res.returncode == 0, f"{args}: rc={res.returncode}\n{res.stdout}\n{res.stderr}"
        return res


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-demo2")


@pytest.fixture(scope="module")
def agent(data_dir: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(
        ["-dev", "-data-dir", str(data_dir / "data"), "-node", "demo2-node"],
        data_dir / "agent.log",
        ready=AgentProcess.dev_ready,
    ).start()
    try:
        yield proc
    finally:
        proc.stop()


def _lb_job(tmp: Path, proxy_port: int, ui_port: int) -> Path:
    """examples/demo2-lb.nomad with its port variables set to free ports."""
    text = (EXAMPLES / "demo2-lb.nomad").read_text()
    text, n = re.subn(r"default = 9999", f"default = {proxy_port}", text)
    text, m = re.subn(r"default = 9998", f"default = {ui_port}", text)
    assert n == m == 1
    path = tmp / "demo2-lb.nomad"
    path.write_text(text)
    return path


def _web_job(tmp: Path, name: str, args: str) -> Path:
    """examples/demo2-web.nomad with another task command (a new version)."""
    text = (EXAMPLES / "demo2-web.nomad").read_text()
    text, n = re.subn(r'args    = \["-c", ".*"\]', lambda _: f'args    = ["-c", "{args}"]', text)
    assert n == 1
    path = tmp / name
    path.write_text(text)
    return path


def _routes(ui: str) -> list[dict[str, Any]]:
    try:
        data: list[dict[str, Any]] = httpx.get(f"{ui}/api/routes", timeout=2).json()
    except httpx.HTTPError:
        return []
    return data


def _healthy_allocs(ui: str) -> set[str]:
    return {
        i["AllocID"]
        for r in _routes(ui)
        if r["Route"] == "/"
        for i in r["Instances"]
        if i["Healthy"]
    }


def _answers(proxy: str, n: int) -> list[str]:
    out = []
    with httpx.Client(base_url=proxy, timeout=5) as http:
        for _ in range(n):
            resp = http.get("/")
            match = HELLO.search(resp.text)
            out.append(match.group(1) if resp.status_code == 200 and match else resp.text)
    return out


def _deployment(address: str, job: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{address}/v1/job/{job}/deployment").json() or {}
    return data


@pytest.mark.docker
def test_demo2_web_behind_the_load_balancer(
    agent: AgentProcess, data_dir: Path, tmp_path: Path, docker_image: str
) -> None:
    cli = CLI(agent.address, tmp_path)
    proxy_port, ui_port = free_port(), free_port()
    proxy, ui = f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{ui_port}"

    run = cli.run("job", "run", str(EXAMPLES / "demo2-web.nomad"))
    assert 'finished with status "complete"' in run.stdout
    cli.run("job", "run", _lb_job(tmp_path, proxy_port, ui_port).as_posix())

    # 1. all three instances registered, checks passing, routed by the LB job
    allocs = wait_for(
        lambda: len(_healthy_allocs(ui)) == 3 and _healthy_allocs(ui),
        timeout=60,
        what="three healthy bootcamp-demo instances behind the LB",
    )
    services = cli.run("service", "info", "bootcamp-demo", check=False)
    if services.returncode == 0:
        assert all(a[:8] in services.stdout for a in allocs), services.stdout

    # 2. six requests, answered by the three instances in turn
    six = _answers(proxy, 6)
    assert set(six) == allocs, six
    assert six[3:] == six[:3], six

    # 3. a stopped instance leaves the rotation within one check interval
    stopped = sorted(allocs)[0]
    started = time.monotonic()
    cli.run("alloc", "stop", "-detach", stopped[:8])
    wait_for(
        lambda: stopped not in _healthy_allocs(ui),
        timeout=CHECK_INTERVAL_S,
        what=f"alloc {stopped[:8]} out of the routing table",
    )
    assert stopped not in _answers(proxy, 6)
    print(f"stopped instance out of rotation after {time.monotonic() - started:.2f}s")

    # 4. an instance whose check fails leaves the rotation (its page is gone: 404)
    failing = sorted(allocs)[1]
    (page,) = (data_dir / "data").rglob(f"{failing}/bootcamp/local/index.html")
    page.unlink()
    started = time.monotonic()
    wait_for(
        lambda: failing not in _healthy_allocs(ui),
        timeout=2 * CHECK_INTERVAL_S + 1,
        what=f"alloc {failing[:8]} critical",
    )
    print(f"failing instance out of rotation after {time.monotonic() - started:.2f}s")
    health = {i["AllocID"]: i["Health"] for r in _routes(ui) for i in r["Instances"]}
    assert health[failing] == "critical"
    assert failing not in _answers(proxy, 6)

    # 5. a new version whose checks never pass: its deployment does not count
    #    the new alloc healthy, and the old instances keep serving
    broken = _web_job(tmp_path, "v2.nomad", "exec httpd -f -p 8080 -h /local")
    cli.run("job", "run", "-detach", broken.as_posix())

    def v2_alloc_running() -> bool:
        dep = _deployment(agent.address, "demo2-web")
        group = (dep.get("TaskGroups") or {}).get("demo") or {}
        return dep.get("JobVersion") == 1 and group.get("PlacedAllocs", 0) >= 1

    wait_for(v2_alloc_running, timeout=30, what="the v1 deployment placing an alloc")
    # not a wait: the deployment must stay unhealthy for several check intervals
    deadline = time.monotonic() + 3 * CHECK_INTERVAL_S
    while time.monotonic() < deadline:
        dep = _deployment(agent.address, "demo2-web")
        assert dep["Status"] == "running", dep
        assert dep["TaskGroups"]["demo"]["HealthyAllocs"] == 0, dep
        answer = _answers(proxy, 1)[0]
        assert HELLO.fullmatch(f"hello from {answer}"), answer
        time.sleep(0.25)

    # 6. a good version rolls out once its checks pass, and takes the traffic
    good = _web_job(
        tmp_path,
        "v3.nomad",
        'echo \\"v3 hello from $NOMAD_ALLOC_ID\\" > /local/index.html; '
        "exec httpd -f -p 8080 -h /local",
    )
    cli.run("job", "run", "-detach", good.as_posix())

    def v3_done() -> bool:
        dep = _deployment(agent.address, "demo2-web")
        return dep.get("JobVersion") == 2 and dep.get("Status") == "successful"

    wait_for(v3_done, timeout=90, what="the v3 deployment successful")
    dep = _deployment(agent.address, "demo2-web")
    assert dep["TaskGroups"]["demo"]["HealthyAllocs"] == 3
    v3 = wait_for(
        lambda: len(_healthy_allocs(ui)) == 3 and _healthy_allocs(ui),
        timeout=10,
        what="three v3 instances routed",
    )
    with httpx.Client(base_url=proxy) as http:
        pages = [http.get("/").text for _ in range(3)]
    assert all(p.startswith("v3 hello from ") for p in pages), pages
    assert {HELLO.search(p).group(1) for p in pages} == v3  # type: ignore[union-attr]

    cli.run("job", "stop", "-purge", "demo2-lb")
    cli.run("job", "stop", "-purge", "demo2-web")


def test_demo2_exec_variant_needs_no_docker(agent: AgentProcess, tmp_path: Path) -> None:
    cli = CLI(agent.address, tmp_path)
    proxy_port, ui_port = free_port(), free_port()
    proxy, ui = f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{ui_port}"
    run = cli.run("job", "run", str(EXAMPLES / "demo2-web-exec.nomad"))
    assert 'Deployment "' in run.stdout and "successful" in run.stdout
    cli.run("job", "run", _lb_job(tmp_path, proxy_port, ui_port).as_posix())
    allocs = wait_for(
        lambda: len(_healthy_allocs(ui)) == 3 and _healthy_allocs(ui),
        timeout=30,
        what="three healthy exec instances behind the LB",
    )
    six = _answers(proxy, 6)
    assert set(six) == allocs and six[3:] == six[:3], six
    cli.run("job", "stop", "-purge", "demo2-web-exec")
    gone = wait_for(
        lambda: httpx.get(f"{proxy}/").status_code == 404 and httpx.get(f"{proxy}/"),
        timeout=10,
        what="route removed",
    )
    assert gone.text == f"no route for 127.0.0.1:{proxy_port}/\n"
    cli.run("job", "stop", "-purge", "demo2-lb")
