"""JSON job files: {"Job": {...}}, bare job objects, key casing, HCL's JSON syntax."""

from __future__ import annotations

import json

import pytest

from controlplane.errors import JobSpecError
from controlplane.jobspec import canonicalize, decode_job, job_from_api, parse_job, parse_job_api

JOB = {
    "ID": "api-job",
    "Type": "batch",
    "Datacenters": ["dc1"],
    "TaskGroups": [
        {
            "Name": "g",
            "Count": None,
            "Tasks": [
                {
                    "Name": "t",
                    "Driver": "docker",
                    "Config": {"image": "redis:7", "Ports": ["db"], "nullable": None},
                    "Resources": {"CPU": 250, "MemoryMB": 128},
                    "KillTimeout": 3_000_000_000,
                }
            ],
            "Networks": [{"DynamicPorts": [{"Label": "db", "To": 6379}]}],
        }
    ],
}


@pytest.mark.parametrize("text", [json.dumps({"Job": JOB}), json.dumps(JOB)])
def test_wrapped_and_bare_json_jobs(text: str) -> None:
    job = parse_job(text, "job.json")
    assert (job.id, job.name, job.type) == ("api-job", "api-job", "batch")
    group = job.task_groups[0]
    assert group.count == 1  # null -> default
    task = group.tasks[0]
    assert task.kill_timeout == 3_000_000_000
    assert task.resources is not None and task.resources.cpu == 250
    # driver config is free-form: its keys and nulls are left alone
    assert task.config == {"image": "redis:7", "Ports": ["db"], "nullable": None}
    assert group.networks is not None and group.networks[0].dynamic_ports is not None
    assert group.networks[0].dynamic_ports[0].to == 6379


def _lower_keys(value: object, free: bool = False) -> object:
    if isinstance(value, dict):
        return {
            (k if free else k.lower()): _lower_keys(v, free or k == "Config")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_lower_keys(v, free) for v in value]
    return value


def test_json_keys_match_case_insensitively() -> None:
    text = json.dumps({"job": _lower_keys(JOB)})
    job = parse_job(text)
    task = job.task_groups[0].tasks[0]
    assert job.id == "api-job"
    assert task.resources is not None and task.resources.memory_mb == 128
    assert task.config == {"image": "redis:7", "Ports": ["db"], "nullable": None}


def test_parse_job_api_returns_wire_names_without_defaults() -> None:
    api = parse_job_api(json.dumps({"job": _lower_keys(JOB)}))
    assert api["TaskGroups"][0]["Tasks"][0]["Resources"] == {"CPU": 250, "MemoryMB": 128}
    assert "Priority" not in api


def test_hcl_json_syntax_is_read_like_hcl() -> None:
    text = json.dumps(
        {
            "job": [
                {
                    "hj": [
                        {
                            "datacenters": ["dc1"],
                            "group": [
                                {
                                    "g": [
                                        {
                                            "network": [{"port": [{"api": [{}]}]}],
                                            "task": [
                                                {
                                                    "t": [
                                                        {"driver": "raw_exec", "kill_timeout": "3s"}
                                                    ]
                                                }
                                            ],
                                        }
                                    ]
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    )
    job = parse_job(text)
    assert job.id == "hj"
    group = job.task_groups[0]
    assert group.networks is not None and group.networks[0].dynamic_ports is not None
    assert group.networks[0].dynamic_ports[0].label == "api"
    assert group.tasks[0].kill_timeout == 3_000_000_000


def test_invalid_json_reports_line() -> None:
    with pytest.raises(JobSpecError) as info:
        parse_job('{\n  "Job": {\n    "ID": "x",\n  }\n}\n', "bad.json")
    assert info.value.line == 4
    assert str(info.value).startswith("bad.json:4: invalid JSON")


def test_wrong_type_names_the_group() -> None:
    with pytest.raises(JobSpecError) as info:
        decode_job({"ID": "x", "TaskGroups": [{"Name": "cache", "Count": "many"}]}, "x.json")
    assert 'group "cache" Count' in str(info.value)


def test_json_job_is_validated() -> None:
    bad = {"ID": "x", "TaskGroups": [{"Name": "g", "Count": -1, "Tasks": [{"Name": "t"}]}]}
    with pytest.raises(JobSpecError) as info:
        parse_job(json.dumps({"Job": bad}), "x.json")
    assert str(info.value) == 'x.json: group "g": count must be >= 0'


def test_job_from_api_fills_partial_blocks_like_the_file_parser() -> None:
    api = {
        "id": "srv",
        "type": "batch",
        "taskgroups": [
            {
                "name": "g",
                "restartpolicy": {"attempts": 0},
                "tasks": [{"name": "t", "driver": "exec"}],
            }
        ],
    }
    job = job_from_api(api)
    policy = job.task_groups[0].restart_policy
    assert policy is not None
    assert (policy.attempts, policy.interval, policy.mode) == (0, 24 * 3600 * 10**9, "fail")
    assert canonicalize(job) == job
