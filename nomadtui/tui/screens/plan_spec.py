"""The plan screen's model: a job spec read from a file, its plan, its submission.

Blocking calls only (file reads, parsing, the API client); the screen runs
them in thread workers. No Textual import, so the flow is testable without
a terminal. Parsing is local (`controlplane.jobspec`, as `job plan` does), so
a broken file is reported with its line before the server is asked anything.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import NomadClient, one_line

Json = dict[str, Any]

JOB_FILE_SUFFIXES = (".nomad", ".hcl", ".json", ".job")

# server-owned job fields: noise in a spec handed to an editor (the server
# ignores them on register anyway)
_SERVER_FIELDS = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "JobSummary",
)

_ENFORCE_INDEX = re.compile(r"Enforcing job modify index[^\n;]*")

# DesiredUpdates key -> the word Nomad's plan uses for it
UPDATE_WORDS = {
    "Place": "create",
    "Stop": "destroy",
    "Migrate": "migrate",
    "Canary": "canary",
    "InPlaceUpdate": "in-place update",
    "DestructiveUpdate": "create/destroy update",
    "Ignore": "ignore",
}
# kinds of update that stop or replace running allocations
DESTRUCTIVE = ("Stop", "DestructiveUpdate", "Migrate")


class SpecReadError(NomadError):
    """The job file could not be read (missing, unreadable, not text)."""


@dataclass(frozen=True)
class Spec:
    """A job spec as loaded from `path`: its text and the parsed API-shaped job."""

    path: str
    text: str
    job: Json
    # set when the file is a temporary copy of a server job (edit flow)
    from_server: bool = False

    @property
    def job_id(self) -> str:
        return str(self.job.get("ID") or "")

    @property
    def job_type(self) -> str:
        return str(self.job.get("Type") or "service")

    @property
    def format(self) -> str:
        is_json = self.path.endswith(".json") or self.text.lstrip().startswith("{")
        return "json" if is_json else "hcl2"

    def submission(self) -> Json:
        return {"Source": self.text, "Format": self.format}


def is_job_file(name: str) -> bool:
    return name.lower().endswith(JOB_FILE_SUFFIXES)


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise SpecReadError(f'Error reading job file "{path}": {reason}') from err


def parse_spec(path: str, text: str, from_server: bool = False) -> Spec:
    """Parse `text` as the job file `path`; raises JobSpecError with file:line."""
    from controlplane import jobspec
    from controlplane.structs import to_builtins

    job = to_builtins(jobspec.parse_job(text, path))
    return Spec(path=path, text=text, job=job, from_server=from_server)


def load_spec(path: str, from_server: bool = False) -> Spec:
    return parse_spec(path, read_text(path), from_server)


def server_spec_text(job: Json) -> str:
    """A server job as `{"Job": ...}` JSON (what `job inspect` prints), for editing."""
    spec = {k: v for k, v in job.items() if k not in _SERVER_FIELDS}
    return json.dumps({"Job": spec}, indent=2) + "\n"


def write_server_spec(job: Json, directory: str) -> str:
    """Write a server job to `<directory>/<job>.json`; returns the path."""
    name = str(job.get("ID") or "job").replace("/", "_")
    path = os.path.join(directory, f"{name}.json")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(server_spec_text(job))
    return path


@dataclass(frozen=True)
class PlanResult:
    """A plan response and what the screen needs from it."""

    spec: Spec
    resp: Json
    groups: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def job_modify_index(self) -> int:
        return int(self.resp.get("JobModifyIndex") or 0)

    @property
    def is_new_job(self) -> bool:
        diff = self.resp.get("Diff") or {}
        return diff.get("Type") == "Added" or self.job_modify_index == 0

    @property
    def unchanged(self) -> bool:
        return (self.resp.get("Diff") or {}).get("Type") == "None"

    @property
    def failed_groups(self) -> dict[str, Json]:
        return dict(self.resp.get("FailedTGAllocs") or {})

    @property
    def destructive(self) -> dict[str, int]:
        """Per group: how many allocations would be stopped or replaced."""
        out = {}
        for name, counts in self.groups.items():
            n = sum(counts.get(k, 0) for k in DESTRUCTIVE)
            if n:
                out[name] = n
        return out


def group_updates(resp: Json) -> dict[str, dict[str, int]]:
    """DesiredTGUpdates per group with zero counts dropped, groups sorted."""
    desired: Json = (resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    out: dict[str, dict[str, int]] = {}
    for name in sorted(desired):
        counts = desired[name] or {}
        out[name] = {k: int(counts.get(k) or 0) for k in UPDATE_WORDS if counts.get(k)}
    return out


def describe_updates(counts: dict[str, int]) -> str:
    """`1 create, 1 in-place update` — Nomad's wording, sorted as the CLI sorts."""
    pairs = sorted((UPDATE_WORDS[k], n) for k, n in counts.items() if n)
    return ", ".join(f"{n} {word}" for word, n in pairs) or "no change"


def plan_spec(client: NomadClient, spec: Spec) -> PlanResult:
    """PUT /v1/job/<id>/plan with Diff=true (a dry run: nothing is written)."""
    resp: Json = client.plan_job(spec.job, diff=True).data or {}
    return PlanResult(spec=spec, resp=resp, groups=group_updates(resp))


def submit_plan(client: NomadClient, plan: PlanResult) -> Json:
    """Register the planned spec with check-index = the plan's Job Modify Index."""
    spec = plan.spec
    submission = None if spec.from_server else spec.submission()
    resp = client.register_job(spec.job, enforce_index=plan.job_modify_index, submission=submission)
    return dict(resp.data or {})


def check_index_conflict(err: NomadError) -> str | None:
    """Nomad's `Enforcing job modify index ...` sentence, whether the server
    answered 409 (ours) or 500 (Nomad); None for any other error."""
    match = _ENFORCE_INDEX.search(one_line(str(err)))
    return match.group(0).rstrip(") ") if match else None
