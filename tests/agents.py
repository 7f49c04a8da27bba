"""Start agents for tests on free loopback ports: `nomadtui serve` as a real
child process (AgentProcess), or an in-process dev agent (in_process_agent)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from controlplane.agent.agent import Agent
from controlplane.agent.config import AgentConfig
from tests.waiting import wait_for


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class AgentProcess:
    """A `nomadtui serve ...` child process; `address` is its HTTP API."""

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        http_port: int | None = None,
        rpc_port: int | None = None,
        ready: Callable[[AgentProcess], bool] | None = None,
    ) -> None:
        self.http_port = http_port or free_port()
        self.rpc_port = rpc_port or free_port()
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._ready = ready or AgentProcess.leader_known

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, wait: bool = True) -> AgentProcess:
        cmd = [
            sys.executable,
            "-m",
            "nomadtui",
            "serve",
            *self.args,
            "-http-port",
            str(self.http_port),
            "-rpc-port",
            str(self.rpc_port),
        ]
        log = self.log_path.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(self._check_ready, timeout=timeout, what=f"agent on {self.address} ({self.log()})")

    def _check_ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"agent exited with {self.proc.returncode}: {self.log()}")
        try:
            return self._ready(self)
        except httpx.HTTPError:
            return False

    def leader_known(self) -> bool:
        """Ready test for servers: the cluster has a leader."""
        return bool(httpx.get(f"{self.address}/v1/status/leader", timeout=2).json())

    def dev_ready(self) -> bool:
        """Ready test for -dev agents: a leader, and the agent's own node ready."""
        if not self.leader_known():
            return False
        nodes = httpx.get(f"{self.address}/v1/nodes", timeout=2).json()
        return any(n["Status"] == "ready" for n in nodes)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@contextmanager
def in_process_agent(**config: Any) -> Iterator[Agent]:
    """A dev agent (server + client) in this process on free loopback ports,
    ready (leader and node) before it is yielded; `config` is AgentConfig's."""
    agent = Agent(AgentConfig(dev=True, http_port=0, rpc_port=0, **config))
    agent.start()
    try:
        assert agent.wait_ready(30), f"dev agent did not become ready ({config})"
        yield agent
    finally:
        agent.shutdown()
