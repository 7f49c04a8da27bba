"""Agent plumbing: the configured body limit (413) and a dead HTTP API noticed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from controlplane.agent.agent import Agent
from controlplane.agent.config import AgentConfig, load_config_file
from controlplane.errors import ValidationError


def test_configured_body_limit_is_enforced(tmp_path: Path) -> None:
    conf = tmp_path / "agent.hcl"
    conf.write_text("limits {\n  http_max_body_bytes = 4096\n}\n")
    cfg = load_config_file(
        str(conf),
        AgentConfig(dev=True, http_port=0, rpc_port=0, data_dir=str(tmp_path / "d")),
    )
    assert cfg.http_max_body_bytes == 4096
    agent = Agent(cfg)
    agent.start()
    try:
        url = f"http://{agent.config.http_addr}/v1/jobs"
        r = httpx.put(url, content=b"{" + b" " * 5000 + b"}", timeout=10)
        assert r.status_code == 413
        assert r.text == "Request body too large: limit is 4096 bytes"
        # under the limit the request reaches the handler (and is judged there)
        r = httpx.put(url, content=b"{}", timeout=10)
        assert r.status_code == 400
    finally:
        agent.shutdown()


@pytest.mark.parametrize("value", ['"lots"', "0"])
def test_unusable_body_limit_is_refused(tmp_path: Path, value: str) -> None:
    conf = tmp_path / "agent.hcl"
    conf.write_text(f"limits {{\n  http_max_body_bytes = {value}\n}}\n")
    with pytest.raises(ValidationError, match="http_max_body_bytes"):
        load_config_file(str(conf), AgentConfig(dev=True))


def test_http_server_stopping_on_its_own_marks_the_agent_fatal(tmp_path: Path) -> None:
    agent = Agent(AgentConfig(dev=True, http_port=0, rpc_port=0, data_dir=str(tmp_path)))
    agent.start()
    try:
        assert not agent.fatal.is_set()
        assert agent._http is not None
        agent._http.should_exit = True  # as if uvicorn had given up by itself
        assert agent.fatal.wait(10), "a dead HTTP API went unnoticed"
    finally:
        agent.shutdown()


def test_a_normal_shutdown_is_not_fatal(tmp_path: Path) -> None:
    agent = Agent(AgentConfig(dev=True, http_port=0, rpc_port=0, data_dir=str(tmp_path)))
    agent.start()
    agent.shutdown()
    assert agent._http_thread is not None and not agent._http_thread.is_alive()
    assert not agent.fatal.is_set()
