"""Quota spec files and API bodies -> QuotaSpec: Nomad's HCL shape, JSON, hashes,
and errors that name the file and line."""

from __future__ import annotations

import json

import pytest

from controlplane.errors import JobSpecError
from controlplane.jobspec.quota import EXAMPLE_SPEC, limit_hash, parse_quota, quota_from_api
from controlplane.structs import QuotaLimit, Resources, to_builtins

SPEC = """
name        = "team-a"
description = "Team A"

limit {
  region = "global"
  region_limit {
    cpu        = 2500
    cores      = 2
    memory     = 2000
    memory_max = -1
    device "nvidia/gpu" {
      count = 1
    }
  }
  variables_limit = 100
}

limit {
  region = "eu"
  region_limit {
    cpu = 100
  }
}
"""


def test_hcl_spec_parses_to_nomad_shape() -> None:
    spec = parse_quota(SPEC, "q.hcl")
    assert spec.name == "team-a" and spec.description == "Team A"
    first, second = spec.limits
    assert first.region == "global"
    assert first.region_limit == Resources(
        cpu=2500,
        cores=2,
        memory_mb=2000,
        memory_max_mb=-1,
        devices=[{"Name": "nvidia/gpu", "Count": 1}],
    )
    assert first.variables_limit == 100
    assert (second.region, second.region_limit.cpu) == ("eu", 100)
    assert first.hash and first.hash != second.hash
    assert first.hash == limit_hash(first.replace(hash=""))


def test_hash_is_stable_and_tracks_the_limit() -> None:
    limit = QuotaLimit(region="global", region_limit=Resources(cpu=1000))
    assert limit_hash(limit) == limit_hash(QuotaLimit(region_limit=Resources(cpu=1000)))
    assert limit_hash(limit) != limit_hash(limit.replace(region_limit=Resources(cpu=1001)))
    assert limit_hash(limit) != limit_hash(limit.replace(region="eu"))
    assert len(limit_hash(limit)) == 44  # base64 of 32 bytes, as Nomad's


def test_json_file_and_api_body_round_trip() -> None:
    spec = parse_quota(SPEC, "q.hcl")
    data = to_builtins(spec)
    assert parse_quota(json.dumps(data), "q.json") == spec
    # `quota inspect` output is accepted too, and key case does not matter
    assert parse_quota(json.dumps({"Spec": data}), "q.json") == spec
    lower = {"name": "x", "limits": [{"region": "global", "regionlimit": {"cpu": 5}}]}
    assert quota_from_api(lower).limits[0].region_limit.cpu == 5


def test_example_spec_is_valid() -> None:
    spec = parse_quota(EXAMPLE_SPEC, "spec.hcl")
    assert spec.name == "default-quota"
    assert spec.limits[0].region_limit.cpu == 2500


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('name = "q"\nbogus = 1\n', 2, 'unexpected attribute or block "bogus"'),
        (
            'name = "q"\nlimit {\n  region = "g"\n  region_limit {\n    cpu = "lots"\n  }\n}\n',
            5,
            "cpu must be an integer",
        ),
        (
            'name = "q"\nlimit {\n  region = "global"\n  region_limit {\n    disk = 1\n  }\n}\n',
            5,
            'unexpected attribute or block "disk" in region_limit',
        ),
        ('name = "q"\nlimit {\n  region = "a"\n}\nlimit {\n  region = "a"\n}\n', 5, "duplicate"),
        ('name = "q w"\nlimit {\n  region = "a"\n}\n', 1, "invalid name"),
        ('name = "q"\nlimit {\n  region = "a"\n', 4, "unexpected end of file"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(JobSpecError) as info:
        parse_quota(text, "bad.hcl")
    assert info.value.file == "bad.hcl"
    assert info.value.line == line
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"Name": "q"}, "at least one limit"),
        ({"Name": "q", "Limits": {}}, "Limits must be a list"),
        ({"Name": "q", "Limits": [{"Region": "global", "RegionLimit": {"CPU": 1.5}}]}, "CPU"),
        ({"Name": "q", "Limits": [{"Region": 3}]}, "Region must be a string"),
        ({"Name": "", "Limits": [{"Region": "global"}]}, "invalid name"),
        ({"Name": "q", "Limits": [{"Region": ""}]}, "must provide a region"),
    ],
)
def test_bad_api_bodies_are_refused(body: object, message: str) -> None:
    with pytest.raises(JobSpecError, match=message):
        quota_from_api(body)
