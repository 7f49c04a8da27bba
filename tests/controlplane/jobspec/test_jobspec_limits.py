"""Hostile job files: size, nesting (HCL and JSON), counts and names are refused
with a located JobSpecError naming what is wrong, never a RecursionError."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlplane import jobspec
from controlplane.errors import JobSpecError
from controlplane.jobspec.limits import (
    MAX_GROUP_COUNT,
    MAX_JOB_FILE_BYTES,
    MAX_NESTING_DEPTH,
    MAX_TASK_GROUPS,
    MAX_TASKS,
    json_depth,
)


def _hcl(group_body: str = "", meta: str = "") -> str:
    return f"""job "web" {{
  {meta}
  group "g" {{
    {group_body}
    task "t" {{
      driver = "raw_exec"
      config {{ command = "/bin/true" }}
    }}
  }}
}}
"""


def _api_job(**group: Any) -> dict[str, Any]:
    tg = {"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec"}], **group}
    return {"ID": "web", "TaskGroups": [tg]}


def test_json_depth_counts_containers_and_stops_early() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert json_depth(deep) == MAX_NESTING_DEPTH + 1  # stops past the limit


def test_deeply_nested_hcl_is_refused_with_its_line() -> None:
    nested = "[" * 70 + "]" * 70
    with pytest.raises(JobSpecError) as err:
        jobspec.parse_job(_hcl(meta=f"m = {nested}"), "deep.nomad")
    assert err.value.file == "deep.nomad" and err.value.line == 2
    assert "nested too deeply (more than 64 levels)" in str(err.value)


def test_nesting_that_would_overflow_the_hcl_transform_is_refused() -> None:
    nested = "[" * 2000 + "]" * 2000  # python-hcl2's transform recursion dies at ~450
    with pytest.raises(JobSpecError, match="nested too deeply"):
        jobspec.parse_job(_hcl(meta=f"m = {nested}"), "deep.nomad")
    chain = " + ".join(["1"] * 600)  # flat to read, deep as a parse tree
    with pytest.raises(JobSpecError, match="expression is nested too deeply"):
        jobspec.parse_job(_hcl(meta=f"m = {chain}"), "chain.nomad")


def test_nesting_within_the_limit_parses() -> None:
    nested = "[" * 20 + "1" + "]" * 20
    job = jobspec.parse_job_api(_hcl(meta=f"m = {nested}"), "ok.nomad")
    assert job["ID"] == "web"


def test_deeply_nested_json_job_file_is_refused() -> None:
    deep = '{"a":' * 100 + "1" + "}" * 100
    text = json.dumps({"Job": _api_job()})[:-2] + f', "Meta": {deep}}}}}'
    with pytest.raises(JobSpecError, match="nested too deeply"):
        jobspec.parse_job(text, "deep.json")
    very_deep = "[" * 50_000 + "]" * 50_000  # past the decoder's own stack
    with pytest.raises(JobSpecError, match="nested too deeply"):
        jobspec.parse_job('{"Job": ' + very_deep + "}", "deeper.json")


def test_api_job_dict_nesting_is_bounded() -> None:
    deep: Any = "x"
    for _ in range(100):
        deep = {"k": deep}
    with pytest.raises(JobSpecError, match="nested too deeply"):
        jobspec.job_from_api({**_api_job(), "Meta": deep})


def test_job_file_over_the_size_limit_is_refused_before_parsing() -> None:
    text = _hcl() + "#" * MAX_JOB_FILE_BYTES
    with pytest.raises(JobSpecError) as err:
        jobspec.parse_job(text, "huge.nomad")
    assert str(err.value).startswith("huge.nomad: job file is too large")
    assert f"the limit is {MAX_JOB_FILE_BYTES} bytes" in str(err.value)


def test_group_count_over_the_limit_names_the_field_and_line() -> None:
    with pytest.raises(JobSpecError) as err:
        jobspec.parse_job(_hcl(group_body=f"count = {MAX_GROUP_COUNT + 1}"), "big.nomad")
    assert err.value.line == 4
    assert f'group "g": count must be at most {MAX_GROUP_COUNT}' in str(err.value)
    jobspec.parse_job(_hcl(group_body=f"count = {MAX_GROUP_COUNT}"), "max.nomad")


def test_too_many_groups_or_tasks_are_refused() -> None:
    job = _api_job()
    job["TaskGroups"] = [
        {**job["TaskGroups"][0], "Name": f"g{i}"} for i in range(MAX_TASK_GROUPS + 1)
    ]
    with pytest.raises(JobSpecError, match=f"at most {MAX_TASK_GROUPS} are allowed"):
        jobspec.validate(jobspec.job_from_api(job))
    many = _api_job(Tasks=[{"Name": f"t{i}", "Driver": "raw_exec"} for i in range(MAX_TASKS + 1)])
    with pytest.raises(JobSpecError, match=f'group "g": has {MAX_TASKS + 1} tasks'):
        jobspec.validate(jobspec.job_from_api(many))


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "..", ".", "a\x00b"])
def test_task_names_that_are_not_a_plain_directory_name_are_refused(name: str) -> None:
    job = _api_job(Tasks=[{"Name": name, "Driver": "raw_exec"}])
    with pytest.raises(JobSpecError, match="must not contain slashes or null characters"):
        jobspec.validate(jobspec.job_from_api(job))


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        ("has space", "must not contain spaces"),
        ("nul\x00id", "must not contain a null character"),
        ("x" * 129, "at most 128 characters"),
    ],
)
def test_bad_job_ids_are_refused(job_id: str, message: str) -> None:
    with pytest.raises(JobSpecError, match=message):
        jobspec.validate(jobspec.job_from_api({**_api_job(), "ID": job_id}))
