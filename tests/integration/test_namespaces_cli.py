"""`nomadtui namespace ...` and `-namespace` / NOMAD_NAMESPACE on job commands,
driven as a user would against a real dev agent (raw_exec)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from controlplane.agent.agent import Agent
from nomadtui.cli.namespace import parse_namespace_spec
from tests.cli_support import CliResult, run_cli
from tests.job_support import running_allocs
from tests.waiting import wait_for

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def cli(dev_agent: Agent) -> Cli:
    return functools.partial(run_cli, f"http://{dev_agent.config.http_addr}")


SPEC = """
name        = "from-file"
description = "Made from a file"

meta {
  owner = "platform"
}

capabilities {
  disabled_task_drivers = ["docker"]
}
"""


def test_parse_namespace_spec_hcl_and_json() -> None:
    assert parse_namespace_spec(SPEC) == {
        "Name": "from-file",
        "Description": "Made from a file",
        "Quota": "",
        "Meta": {"owner": "platform"},
        "Capabilities": {"DisabledTaskDrivers": ["docker"]},
    }
    assert parse_namespace_spec('{"Name": "j", "Description": "d"}') == {
        "Name": "j",
        "Description": "d",
    }
    with pytest.raises(ValueError, match="invalid key: colour"):
        parse_namespace_spec('name = "x"\ncolour = "red"\n')


def test_apply_list_status_inspect_delete(cli: Cli, tmp_path: Path) -> None:
    res = cli("namespace", "apply", "-description", "Team A", "cli-a")
    assert (res.code, res.out, res.err) == (0, 'Successfully applied namespace "cli-a"!\n', "")
    # flags left out keep what the namespace has
    assert cli("namespace", "apply", "cli-a").code == 0
    res = cli("namespace", "status", "cli-a")
    assert res.code == 0, res.err
    assert res.out == (
        "Name            = cli-a\n"
        "Description     = Team A\n"
        "Quota           = <none>\n"
        "EnabledDrivers  = *\n"
        "DisabledDrivers = <none>\n"
    )

    spec = tmp_path / "ns.hcl"
    spec.write_text(SPEC)
    res = cli("namespace", "apply", str(spec))
    assert res.out == 'Successfully applied namespace specification "from-file"!\n', res.err
    res = cli("namespace", "status", "from-f")  # a unique prefix is enough
    assert "Description     = Made from a file" in res.out
    assert "DisabledDrivers = docker" in res.out
    assert "Metadata\nowner = platform\n" in res.out

    res = cli("namespace", "list")
    lines = res.out.splitlines()
    assert lines[0].split() == ["Name", "Description"]
    assert any(line.split()[:2] == ["cli-a", "Team"] for line in lines)
    assert any(line.startswith("default ") and "Default shared namespace" in line for line in lines)

    res = cli("namespace", "inspect", "cli-a")
    assert '"Name": "cli-a"' in res.out and '"Description": "Team A"' in res.out

    res = cli("namespace", "delete", "cli-a")
    assert (res.code, res.out) == (0, 'Successfully deleted namespace "cli-a"!\n')
    res = cli("namespace", "status", "cli-a")
    assert res.code == 1
    assert res.err == 'Error retrieving namespace: Namespace "cli-a" matched no namespaces\n'
    res = cli("namespace", "delete", "default")
    assert (res.code, res.err) == (
        1,
        "Error deleting namespace: default namespace can not be deleted\n",
    )
    res = cli("namespace", "apply", "bad_name")
    assert res.code == 1 and "Must match regex" in res.err


def test_job_commands_follow_namespace_flag_and_env(
    cli: Cli, api: httpx.Client, tmp_path: Path
) -> None:
    for ns in ("cli-x", "cli-y"):
        assert cli("namespace", "apply", ns).code == 0
    job = tmp_path / "job.nomad"
    job.write_text(
        """
job "shared" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""
    )
    assert cli("-namespace", "cli-x", "job", "run", "-detach", str(job)).code == 0
    res = cli("job", "run", "-detach", str(job), env={"NOMAD_NAMESPACE": "cli-y"})
    assert res.code == 0, res.err
    res = cli("job", "run", "-detach", str(job), env={"NOMAD_NAMESPACE": "cli-none"})
    assert res.code == 1
    assert 'job "shared" is in nonexistent namespace "cli-none"' in res.err

    for ns in ("cli-x", "cli-y"):
        wait_for(lambda ns=ns: running_allocs(api, "shared", ns), what=f"shared in {ns}")
    res = cli("job", "status", "-namespace", "*")
    header, *rows = res.out.splitlines()
    assert header.split()[:3] == ["ID", "Namespace", "Type"]
    assert sorted(r.split()[:2] for r in rows if r.startswith("shared")) == [
        ["shared", "cli-x"],
        ["shared", "cli-y"],
    ]
    res = cli("job", "status", "-namespace", "cli-x", "shared")
    assert res.code == 0, res.err
    assert "Namespace     = cli-x" in res.out
    assert cli("job", "status", "shared").code == 1  # not in default

    # deleting a namespace with a live job is refused with Nomad's message
    res = cli("namespace", "delete", "cli-x")
    assert res.code == 1
    assert 'contains at least one non-terminal job "shared"' in res.err
    assert (
        cli("-namespace", "cli-x", "job", "stop", "-purge", "-detach", "-yes", "shared").code == 0
    )
    assert cli("namespace", "delete", "cli-x").code == 0
    api.delete("/v1/job/shared", params={"namespace": "cli-y", "purge": "true"})


def test_status_of_the_default_namespace(cli: Cli) -> None:
    res = cli("namespace", "status", "default")
    assert res.code == 0
    assert res.out.startswith(
        "Name            = default\nDescription     = Default shared namespace\n"
    )


def test_status_shows_the_quota_and_its_usage(cli: Cli, api: httpx.Client) -> None:
    quota = {
        "Name": "cli-q",
        "Limits": [{"Region": "global", "RegionLimit": {"CPU": 1000, "MemoryMB": 0}}],
    }
    assert api.put("/v1/quota/cli-q", json=quota).status_code == 200
    res = cli("namespace", "apply", "-quota", "cli-q", "cli-quota")
    assert res.code == 0, res.err
    res = cli("namespace", "status", "cli-quota")
    assert res.code == 0, res.err
    assert "Quota           = cli-q\n" in res.out
    _, _, table = res.out.partition("\nQuota Limits\n")
    header, row = table.splitlines()[:2]
    assert header.startswith("Region  CPU Usage")
    assert row.split()[:4] == ["global", "0", "/", "1000"]
    assert "0 / inf" in row  # memory 0 = unlimited
    res = cli("namespace", "apply", "-quota", "no-such", "cli-quota")
    assert res.code == 1
    assert 'references unknown quota "no-such"' in res.err
