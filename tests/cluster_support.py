"""Clusters of real `nomadtui serve -server` processes for integration tests:
N servers that bootstrap together, and which of them leads. Starting clients
and what a test does with the cluster stay in the tests."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.agents import AgentProcess, free_port


def start_servers(
    tmp: Path,
    n: int,
    extra: list[str] | None = None,
    ready: Callable[[AgentProcess], bool] | None = None,
    started: list[AgentProcess] | None = None,
) -> list[AgentProcess]:
    """Servers s0..s{n-1} (data in tmp/s<i>, logs in tmp/s<i>.log) that
    retry-join each other and expect n for bootstrap; returned once each is
    ready (by default: knows the leader). `extra` flags go to every server.

    All are started before any is waited on (bootstrap needs n of them up);
    each is appended to `started` as soon as it runs, so a test's cleanup
    kills them even when waiting fails."""
    rpc = [free_port() for _ in range(n)]
    join = ",".join(f"127.0.0.1:{p}" for p in rpc)
    servers = started if started is not None else []
    first = len(servers)
    for i in range(n):
        args = ["-server", "-data-dir", str(tmp / f"s{i}"), "-node", f"s{i}"]
        args += ["-bootstrap-expect", str(n), "-retry-join", join, *(extra or [])]
        server = AgentProcess(args, tmp / f"s{i}.log", rpc_port=rpc[i], ready=ready)
        servers.append(server.start(wait=False))
    mine = servers[first : first + n]
    for s in mine:
        s.wait_ready()
    return mine


def leader_of(servers: list[AgentProcess]) -> AgentProcess | None:
    """The server that leads, as the first of `servers` that answers says;
    None while no answering server knows a leader among them."""
    for s in servers:
        try:
            addr = httpx.get(f"{s.address}/v1/status/leader", timeout=2).json()
        except httpx.HTTPError:
            continue
        found = [x for x in servers if addr == f"127.0.0.1:{x.rpc_port}"]
        if found:
            return found[0]
    return None


def rpc_listening(agent: AgentProcess) -> bool:
    """Ready test for a server that is not (yet) in a cluster: its Raft port
    accepts connections."""
    try:
        socket.create_connection(("127.0.0.1", agent.rpc_port), timeout=1).close()
    except OSError:
        return False
    return True
