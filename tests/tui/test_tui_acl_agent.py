"""The console against a REAL dev agent with ACLs on: no token -> the agent's 403
-> the prompt -> a read-only token -> the jobs view loads, and the job's
changes are disabled with the reason the server's own ACL model gives."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from textual.widgets import Input
from tui_fake_cluster import screen_text
from tui_fake_security import bindings, table_keys, until

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.structs import to_builtins
from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.widgets.token_prompt import TokenPrompt
from tests.acl_support import auth, bootstrap, make_token
from tests.agents import in_process_agent

# never placed (no such kernel): listed, and nothing runs
JOB = """
job "guarded" {
  datacenters = ["dc1"]
  group "g" {
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "plan9"
    }
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
}
"""
READ_ONLY = """
namespace "*" {
  policy = "read"
}
"""


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    data_dir = str(tmp_path_factory.mktemp("acl-agent"))
    with in_process_agent(data_dir=data_dir, node_name="acl-node", acl_enabled=True) as agent:
        yield agent


def _setup(address: str) -> str:
    """Bootstrap, a read-only policy and token, one job; the reader's secret."""
    with httpx.Client(base_url=address, timeout=10) as api:
        mgmt = bootstrap(api)
        reader = str(make_token(api, mgmt, "reader", READ_ONLY)["SecretID"])
        job = to_builtins(jobspec.parse_job(JOB, "job.nomad"))
        resp = api.put("/v1/jobs", headers=auth(mgmt), json={"Job": job})
        assert resp.status_code == 200, resp.text
        # anonymous is denied: the console starts from a 403
        assert api.get("/v1/jobs").status_code == 403
    return reader


async def test_prompt_then_read_only_token_against_a_real_agent(acl_agent: Agent) -> None:
    address = f"http://{acl_agent.config.http_addr}"
    reader = _setup(address)
    client = NomadClient(address=address, env={})
    app = ConsoleApp(client)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, TokenPrompt))
            await pilot.pause()
            app.screen.query_one(Input).value = reader
            await pilot.press("enter")
            await until(pilot, lambda: table_keys(app) == ["guarded"] and app.permissions.known)
            assert "token:reader" in screen_text(app) and reader not in screen_text(app)
            # the server's own rules, compiled in the console: read yes, change no
            assert bindings(app)["app.plan"] is False
            app.open_job("guarded")
            await until(
                pilot,
                lambda: (
                    type(app.screen).__name__ == "JobScreen"
                    and getattr(app.screen, "job", None) is not None
                ),
            )
            await pilot.pause()
            keys = bindings(app)
            assert keys["stop"] is False and keys["scale"] is False
            await pilot.press("ctrl+d")
            await pilot.pause(0.1)
            assert "Not allowed: needs submit-job in namespace default" in [
                n.message for n in app._notifications
            ]
            assert type(app.screen).__name__ == "JobScreen"
    finally:
        client.close()
        app.client.close()
