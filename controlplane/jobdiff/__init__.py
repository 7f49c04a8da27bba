"""Job diffs: what changes between two versions of a job (job plan, job
history), as Nomad's JobDiff tree, and the scheduler annotations a plan adds."""

from .annotate import annotate
from .diff import diff_versions, job_diff
from .structs import DiffType, FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff

__all__ = [
    "DiffType",
    "FieldDiff",
    "JobDiff",
    "ObjectDiff",
    "TaskDiff",
    "TaskGroupDiff",
    "annotate",
    "diff_versions",
    "job_diff",
]
