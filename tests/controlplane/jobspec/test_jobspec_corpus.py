"""The real-world corpus (/work/shared/corpus/jobs/real): every file either parses into a
Job or fails exactly as listed here, with a JobSpecError naming file and line.

A file that starts parsing, or a new failure, makes a test fail: update the
lists below deliberately.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controlplane.errors import JobSpecError
from controlplane.jobspec import canonicalize, parse_job
from controlplane.structs import Job

CORPUS = Path("/work/shared/corpus/jobs/real")
EXTENSIONS = (".nomad", ".hcl", ".job", ".json")

# Files whose HCL2 variables have no default: Nomad refuses them too unless run with
# `-var`. They are parsed with these values (as a user's -var flags) and, separately,
# checked to fail without them.
NEEDS_VARIABLES: dict[str, dict[str, Any]] = {
    "brucellino__nomad-jobs__qa-api.nomad": {"ghcr_token": "token"},
    "hashicorp__nomad__e2e__remotetasks__input__ecs.nomad": {
        "security_groups": ["sg-1"],
        "subnets": ["subnet-1"],
    },
    "hashicorp__nomad__e2e__secret__input__nomad_secret.hcl": {"secret_path": "secret/x"},
    "hashicorp__nomad__e2e__task_schedule__input__schedule.nomad.hcl": {
        "start": "0 9 * * *",
        "end": "0 17",
    },
    "perrymanuk__hashi-homelab__nomad_jobs__core-infra__traefik__nomad.job": {
        "region": "global",
        "tld": "example.com",
        "shared_dir": "/mnt/shared/",
    },
    "perrymanuk__hashi-homelab__nomad_jobs__media-stack__plex__nomad.job": {
        "region": "global",
        "shared_dir": "/mnt/shared/",
        "media_dir": "/mnt/media",
    },
    "perrymanuk__hashi-homelab__nomad_jobs__misc__adb__nomad.job": {
        "region": "global",
        "shared_dir": "/mnt/shared/",
    },
    "perrymanuk__hashi-homelab__nomad_jobs__misc__gitea__nomad.job": {
        "region": "global",
        "tld": "example.com",
    },
    "perrymanuk__hashi-homelab__nomad_jobs__security__suricata__nomad.job": {
        "region": "global",
        "shared_dir": "/mnt/shared/",
    },
    "perrymanuk__hashi-homelab__nomad_jobs__system__docker-cleanup__nomad.job": {
        "region": "global"
    },
}

# file -> (why it fails, line, text the message must contain)
EXPECTED_FAILURES: dict[str, tuple[str, int, str]] = {
    "hashicorp__nomad-dispatch-ffmpeg__nomad__transcode.nomad": (
        "HCL1-only syntax: quoted keys inside an env block",
        28,
        "quoted attribute name is HCL1 syntax",
    ),
    "perrymanuk__hashi-homelab__nomad_jobs__misc__octoprint__nomad.job": (
        "`${meta.3d_printer}`: a traversal step starting with a digit is not HCL2",
        12,
        "names cannot start with a digit",
    ),
    "hashicorp__nomad__jobspec2__test-fixtures__config-compatibility.hcl": (
        "parser fixture for driver config only: its task has no driver",
        6,
        'group "group" task "task": driver is required',
    ),
    "hashicorp__nomad__jobspec__test-fixtures__multiregion.hcl": (
        "parser fixture for the multiregion block only: the job has no groups",
        4,
        "job has no task groups",
    ),
}


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.name.endswith(EXTENSIONS))


FILES = _corpus_files()


def test_corpus_is_present() -> None:
    assert len(FILES) >= 80
    listed = set(NEEDS_VARIABLES) | set(EXPECTED_FAILURES)
    assert listed <= {p.name for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path.name in EXPECTED_FAILURES:
        _reason, line, fragment = EXPECTED_FAILURES[path.name]
        with pytest.raises(JobSpecError) as info:
            parse_job(text, path.name, variables=NEEDS_VARIABLES.get(path.name))
        assert info.value.file == path.name
        assert info.value.line == line
        assert str(info.value).startswith(f"{path.name}:{line}:")
        assert fragment in str(info.value)
        return
    job = parse_job(text, path.name, variables=NEEDS_VARIABLES.get(path.name))
    assert isinstance(job, Job)
    assert job.id
    assert job.task_groups
    assert all(t.driver for g in job.task_groups for t in g.tasks)
    assert canonicalize(job) == job  # parse_job's output is already canonical


@pytest.mark.parametrize("name", sorted(NEEDS_VARIABLES))
def test_corpus_file_without_variables_fails_on_the_first_unset_one(name: str) -> None:
    with pytest.raises(JobSpecError) as info:
        parse_job((CORPUS / name).read_text(encoding="utf-8"), name)
    assert info.value.file == name
    assert info.value.line is not None
    assert "is used but has no default and no value was given" in str(info.value)
    assert any(f'variable "{var}"' in str(info.value) for var in NEEDS_VARIABLES[name])


def test_at_least_95_percent_of_the_corpus_parses() -> None:
    parsed = 0
    for path in FILES:
        try:
            parse_job(
                path.read_text(encoding="utf-8"),
                path.name,
                variables=NEEDS_VARIABLES.get(path.name),
            )
        except JobSpecError:
            continue
        parsed += 1
    assert parsed == len(FILES) - len(EXPECTED_FAILURES)
    assert parsed / len(FILES) >= 0.95
