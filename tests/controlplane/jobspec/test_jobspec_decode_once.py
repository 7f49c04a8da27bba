"""The API decode path does each piece of work once and still answers as before:
job_from_api's shared normalisation memo, canonicalize's memo of its own
answers (with_namespace), and the level-at-a-time json_depth."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from controlplane import jobspec
from controlplane.errors import JobSpecError
from controlplane.jobspec.defaults import canonicalize, fill_block_defaults, with_namespace
from controlplane.jobspec.json_input import normalize_keys
from controlplane.jobspec.limits import check_json_depth, json_depth
from controlplane.structs import Job

CORPUS = Path("/work/shared/corpus/jobs/real")


def _reference(api: dict[str, Any]) -> Job:
    """job_from_api as it was: normalise, merge defaults, normalise again, decode."""
    check_json_depth(api)
    return canonicalize(jobspec.decode_job(fill_block_defaults(normalize_keys(dict(api)))))


def _corpus_api_jobs() -> list[dict[str, Any]]:
    jobs = []
    for path in sorted(CORPUS.iterdir()):
        try:
            jobs.append(jobspec.parse_job_api(path.read_text(encoding="utf-8"), path.name))
        except (JobSpecError, UnicodeDecodeError):
            continue
    return jobs


EDGE_CASES: list[dict[str, Any]] = [
    # job-level blocks the Job struct has no field for are merged into each
    # group and only then read as structs (the second pass renames `maxparallel`)
    {
        "ID": "j",
        "Migrate": {"maxparallel": 3, "HealthCheck": None},
        "ReschedulePolicy": {"attempts": 2, "Unlimited": False},
        "Update": {"max_parallel": 2, "canary": 1},
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker"}]}],
    },
    # casing collisions, nulls, blocks of the wrong shape
    {
        "id": "j",
        "ID": "k",
        "Type": "batch",
        "taskgroups": [
            None,
            {
                "name": "g",
                "RestartPolicy": {"attempts": 1, "mode": None},
                "restartpolicy": {"Delay": 5},
                "EphemeralDisk": {"sizemb": 10},
                "Tasks": [
                    {"name": "t", "driver": "exec", "LogConfig": {"maxfiles": 2}},
                    {"Name": "u", "Driver": "exec", "RestartPolicy": {"attempts": 9}},
                    None,
                ],
                "Networks": [{"dynamicports": [{"label": "http"}], "Mode": None}],
                "Services": [{"name": "s", "checks": [{"type": "http", "Header": {"A": ["b"]}}]}],
            },
        ],
        "Meta": {"lower": "x"},
    },
    {"ID": "j", "Type": "system", "Update": [1], "Migrate": "x", "TaskGroups": [{"Name": "g"}]},
    {"ID": "j", "TaskGroups": {"not": "a list"}},
]


def _outcome(decode: Any, api: dict[str, Any]) -> Any:
    try:
        return decode(api)
    except JobSpecError as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize("api", EDGE_CASES)
def test_job_from_api_matches_the_two_full_passes(api: dict[str, Any]) -> None:
    assert _outcome(jobspec.job_from_api, api) == _outcome(_reference, api)


def test_job_from_api_matches_the_two_full_passes_on_the_corpus() -> None:
    jobs = _corpus_api_jobs()
    assert len(jobs) > 50
    for api in jobs:
        for job_type in ("service", "batch", "system"):
            typed = {**api, "Type": job_type, "Update": {"maxparallel": 2}}
            assert jobspec.job_from_api(typed) == _reference(typed), api.get("ID")


def test_depth_checked_skips_only_the_check() -> None:
    deep: Any = 1
    for _ in range(70):
        deep = {"a": deep}
    task = {"Name": "t", "Driver": "exec", "Config": deep}
    api = {"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [task]}]}
    with pytest.raises(JobSpecError, match="nested too deeply"):
        jobspec.job_from_api(api)
    assert jobspec.job_from_api(api, depth_checked=True).id == "j"


def test_canonicalize_answers_its_own_answer_at_once() -> None:
    raw = Job(id="j", type="batch")
    first = canonicalize(raw)
    assert canonicalize(first) is first
    again = canonicalize(raw)  # not canonical: worked out, not looked up
    assert again == first and again is not raw


def test_a_changed_canonical_job_is_canonicalised_afresh() -> None:
    job = canonicalize(Job(id="j"))
    changed = job.replace(priority=0, type="")  # not the remembered object
    out = canonicalize(changed)
    assert (out.priority, out.type) == (50, "service")


def test_with_namespace_keeps_a_job_known_canonical() -> None:
    job = canonicalize(Job(id="j"))
    moved = with_namespace(job, "prod")
    assert moved.namespace == "prod"
    assert canonicalize(moved) is moved
    # an empty namespace is what canonicalize fills: not taken as canonical
    emptied = with_namespace(job, "")
    assert canonicalize(emptied).namespace == "default"
    # a job never canonicalised is not made canonical by a namespace
    raw = with_namespace(Job(id="k"), "prod")
    assert canonicalize(raw).priority == 50


def _reference_depth(value: Any, limit: int) -> int:
    """json_depth as it was: depth-first over (node, depth) pairs."""
    best = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        best = max(best, depth)
        if best > limit:
            return best
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return best


class _Dict(dict[str, Any]):
    pass


class _List(list[Any]):
    pass


def _random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 70 or roll < 0.3:
        return rng.choice([1, "x", None, 2.5, True, (1, [2])])
    width = rng.randint(0, 3)
    if roll < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(width)]
    if roll < 0.55:
        return _List(_random_value(rng, depth + 1) for _ in range(width))
    if roll < 0.6:
        return _Dict({str(i): _random_value(rng, depth + 1) for i in range(width)})
    return {str(i): _random_value(rng, depth + 1) for i in range(width)}


def test_json_depth_is_the_depth_first_answer() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        value = _random_value(rng, 0)
        for limit in (0, 1, 3, 64):
            assert json_depth(value, limit) == _reference_depth(value, limit)
    body = json.loads((CORPUS / _json_file()).read_text())
    assert json_depth(body) == _reference_depth(body, 64)


def _json_file() -> str:
    return next(p.name for p in sorted(CORPUS.iterdir()) if p.name.endswith(".json"))
