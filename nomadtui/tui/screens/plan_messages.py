"""Messages the plan screen's workers post (workers never touch widgets).

`generation` ties a plan result to the request that asked for it, so a slow
answer to an older plan never replaces a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .plan_spec import PlanResult


@dataclass(frozen=True)
class Failure:
    """What went wrong, where (file and line when known) and the file's text."""

    title: str
    message: str
    source: str = ""
    line: int | None = None


class PlanReady(Message):
    """A plan arrived for the spec at `plan.spec.path`."""

    def __init__(self, generation: int, plan: PlanResult) -> None:
        super().__init__()
        self.generation = generation
        self.plan = plan


class PlanFailed(Message):
    """Reading, parsing or planning failed; `path` is the spec file if one exists."""

    def __init__(
        self, generation: int, failure: Failure, path: str | None = None, from_server: bool = False
    ) -> None:
        super().__init__()
        self.generation = generation
        self.failure = failure
        self.path = path
        self.from_server = from_server


class JobSubmitted(Message):
    """The job was registered (check-index held)."""

    def __init__(self, job_id: str, eval_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.eval_id = eval_id


class SubmitFailed(Message):
    """Registration was refused; `conflict` when the check-index did not hold."""

    def __init__(self, message: str, conflict: bool) -> None:
        super().__init__()
        self.message = message
        self.conflict = conflict
