"""Every `template` block of the real-world corpus (/work/shared/corpus/jobs/real)
either renders, with deterministic fake data (a task env, two instances of
any service, any variable), or is refused naming the unsupported function it
calls. Which functions a block calls is found here independently of the
engine (a scan of its actions), so a block the engine refuses wrongly, or
renders although it calls Consul or Vault, fails.

Counts (update deliberately): 46 blocks render, 16 are refused (secret 6,
service 5, key 3, sockaddr 2), 1 is not a template at all (see
NOT_RENDERABLE), 2 name a `source` file the corpus does not ship.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from controlplane.client.template import (
    UNSUPPORTED,
    RenderContext,
    Template,
    TemplateError,
    parse_env_file,
)
from controlplane.errors import JobSpecError
from controlplane.jobspec import parse_job
from tests.controlplane.jobspec.test_jobspec_corpus import FILES, NEEDS_VARIABLES

# blocks whose text is not a valid template for reasons outside the template language
NOT_RENDERABLE = {
    (
        "hashicorp__learn-nomad-features__memory-oversubscription__monitoring.nomad",
        "../alloc/influx.yaml",
    ): "an HCL2 ${base64encode(file(...))} call, which Nomad's job parser evaluates and "
    "ours leaves in the text (its quotes then break the template string)",
}

ENV = {
    "NOMAD_ALLOC_ID": "5c1e5c1e-0000-4000-8000-000000000001",
    "NOMAD_SHORT_ALLOC_ID": "5c1e5c1e",
    "NOMAD_ALLOC_NAME": "job.group[0]",
    "NOMAD_JOB_NAME": "job",
    "NOMAD_REGION": "global",
    "NOMAD_META_budget": "200",
    "NOMAD_IP_http": "10.1.1.1",
    "NOMAD_PORT_nginx": "8080",
    "NOMAD_IP_nginx": "10.1.1.1",
}


class FakeCatalog:
    """Two instances of any service; every variable exists with two items."""

    def get_variable(self, namespace: str, path: str) -> dict[str, Any]:
        return {"Namespace": namespace, "Path": path, "Items": {"user": "u", "password": "p"}}

    def list_variables(self, namespace: str, prefix: str) -> list[dict[str, Any]]:
        return [{"Namespace": namespace, "Path": prefix + "/a"}]

    def list_services(self, namespace: str, name: str, choose: str = "") -> list[dict[str, Any]]:
        return [
            {"ID": f"{name}-{i}", "ServiceName": name, "Address": f"10.0.0.{i}", "Port": 9000 + i}
            for i in (1, 2)
        ]

    def service_names(self, namespace: str) -> list[dict[str, Any]]:
        return [{"ServiceName": "web", "Tags": ["a"]}]


def _blocks() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in FILES:
        try:
            job = parse_job(
                path.read_text(encoding="utf-8"),
                path.name,
                variables=NEEDS_VARIABLES.get(path.name),
            )
        except JobSpecError:
            continue  # test_jobspec_corpus.py pins these
        for group in job.task_groups:
            for task in group.tasks:
                out.extend((path.name, t) for t in task.templates or [])
    return out


BLOCKS = _blocks()
INLINE = [(f, t) for f, t in BLOCKS if t.get("EmbeddedTmpl") is not None]


def _id(block: tuple[str, dict[str, Any]]) -> str:
    return f"{block[0]}:{block[1].get('DestPath')}"


def called_functions(text: str, left: str, right: str) -> list[str]:
    """Identifiers in function position inside the actions, in order."""
    names: list[str] = []
    pattern = re.escape(left) + r"(.*?)" + re.escape(right)
    for action in re.findall(pattern, text, flags=re.S):
        action = re.sub(r'"(?:\\.|[^"\\])*"|`[^`]*`', '""', action)
        starts = r"(?:^-?|\||\(|:=)\s*(?:(?:else\s+)?(?:if|with|range)\s+)?([A-Za-z_]\w*)"
        names.extend(re.findall(starts, action.strip()))
    return names


def render(block: dict[str, Any]) -> str:
    tmpl = Template(
        block.get("DestPath", ""), block["EmbeddedTmpl"], block["LeftDelim"], block["RightDelim"]
    )
    return tmpl.render(RenderContext(env=ENV, source=FakeCatalog())).text


def _refused(block: dict[str, Any]) -> list[str]:
    names = called_functions(block["EmbeddedTmpl"], block["LeftDelim"], block["RightDelim"])
    return [n for n in names if n in UNSUPPORTED]


def test_corpus_has_template_blocks() -> None:
    assert len(BLOCKS) >= 60
    assert {(f, t.get("DestPath")) for f, t in INLINE} >= set(NOT_RENDERABLE)


@pytest.mark.parametrize("block", INLINE, ids=[_id(b) for b in INLINE])
def test_corpus_template_renders_or_is_refused_by_name(block: tuple[str, dict[str, Any]]) -> None:
    file, tmpl = block
    if (file, tmpl.get("DestPath")) in NOT_RENDERABLE:
        with pytest.raises(TemplateError):
            render(tmpl)
        return
    refused = _refused(tmpl)
    if refused:
        with pytest.raises(TemplateError) as info:
            render(tmpl)
        assert f'function "{refused[0]}" is not supported (' in str(info.value)
        assert "nomadtui" in str(info.value)
        return
    out = render(tmpl)
    assert "<no value>" not in out
    if tmpl.get("Envvars"):
        parse_env_file(out, tmpl["DestPath"])  # what the task's environment gets


def test_corpus_counts() -> None:
    rendered = 0
    refused: Counter[str] = Counter()
    for file, tmpl in INLINE:
        names = _refused(tmpl)
        if names:
            refused[names[0]] += 1
        elif (file, tmpl.get("DestPath")) not in NOT_RENDERABLE:
            render(tmpl)
            rendered += 1
    assert rendered == 46
    assert refused == {"secret": 6, "service": 5, "key": 3, "sockaddr": 2}
    assert len(BLOCKS) - len(INLINE) == 2  # `source` files the corpus does not ship


def _block(file: str, dest: str) -> dict[str, Any]:
    return next(t for f, t in INLINE if f == file and t.get("DestPath") == dest)


def test_service_discovery_env_template_feeds_the_environment() -> None:
    tmpl = _block(
        "hashicorp-education__learn-nomad-getting-started__jobs__pytechco-employee.nomad.hcl",
        "local/env.txt",
    )
    env = parse_env_file(render(tmpl))
    # the range writes each instance; the later one wins, as in Nomad
    assert env == {"REDIS_HOST": "10.0.0.2", "REDIS_PORT": "9002", "PTC_EMPLOYEE_ID": "5c1e5c1e"}


def test_nginx_upstreams_from_the_catalog() -> None:
    tmpl = _block("hashicorp__learn-nomad-sd__hashicups.hcl", "local/default.conf")
    out = render(tmpl)
    assert "server 10.0.0.1:9001;" in out and "server 10.0.0.2:9002;" in out
    assert "listen 8080;" in out
    assert "proxy_pass http://10.0.0.1:9001;" in out


def test_triple_brace_delimiters_keep_double_braces_literal() -> None:
    tmpl = _block(
        "perrymanuk__hashi-homelab__nomad_jobs__core-infra__traefik__nomad.job",
        "local/traefik.toml",
    )
    out = render(tmpl)
    assert 'defaultRule = "Host(`{{ .Name }}.example.com`)"' in out
    assert 'address = "10.1.1.1:8500"' in out


def test_corpus_dir_exists() -> None:
    assert Path("/work/shared/corpus/jobs/real").is_dir()
