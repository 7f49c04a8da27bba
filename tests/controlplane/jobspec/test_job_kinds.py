"""Validation of periodic / parameterized jobs and dispatch payload paths (Nomad's words)."""

from __future__ import annotations

import pytest

from controlplane import jobspec
from controlplane.errors import JobSpecError

BASE = """
job "j" {{
  type = "{type}"
  {block}
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{ command = "true" }}
      {task}
    }}
  }}
}}
"""


def _validate(block: str, type: str = "batch", task: str = "") -> None:
    job = jobspec.parse_job(BASE.format(type=type, block=block, task=task), "j.nomad")
    jobspec.validate(job)


def test_valid_kinds_pass() -> None:
    _validate('periodic { crons = ["*/5 * * * *", "@daily"]\n time_zone = "Europe/Berlin" }')
    _validate('periodic { cron = "0 0 * * * * *"\n enabled = false }')
    _validate(
        'parameterized { payload = "required"\n meta_required = ["a"] }',
        task='dispatch_payload { file = "in/data.json" }',
    )


@pytest.mark.parametrize(
    ("block", "type", "task", "message"),
    [
        ('periodic { cron = "* * * * *" }', "service", "", 'only be used with "batch"'),
        ('periodic { cron = "61 * * * *" }', "batch", "", 'Invalid cron spec "61 \\* \\* \\* \\*"'),
        (
            'periodic {\n cron = "@daily"\n time_zone = "Nowhere/Land" }',
            "batch",
            "",
            'Invalid time zone "Nowhere/Land": unknown time zone Nowhere/Land',
        ),
        ("periodic { enabled = true }", "batch", "", "Must specify a spec"),
        (
            'parameterized { payload = "maybe" }',
            "batch",
            "",
            'Unknown payload requirement: "maybe"',
        ),
        (
            'parameterized {\n meta_required = ["a"]\n meta_optional = ["a"] }',
            "batch",
            "",
            "should be disjoint",
        ),
        ("parameterized {}", "system", "", "Parameterized job can only be used"),
        (
            "parameterized {}",
            "batch",
            'dispatch_payload { file = "../../../etc/x" }',
            "destination escapes allocation directory",
        ),
    ],
)
def test_invalid_kinds_are_refused(block: str, type: str, task: str, message: str) -> None:
    with pytest.raises(JobSpecError, match=message):
        _validate(block, type, task)
