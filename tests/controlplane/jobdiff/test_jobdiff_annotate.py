"""annotate: the scheduler's counts and the create/destroy hints on a plan's diff."""

from __future__ import annotations

from typing import Any

from jobdiff_jobs import cache_group, example_job, redis_task

from controlplane.jobdiff import DiffType, FieldDiff, JobDiff, TaskGroupDiff, annotate, job_diff
from controlplane.structs import SEC, Constraint, DesiredUpdates, LogConfig, Service


def _group(diff: JobDiff, name: str = "cache") -> TaskGroupDiff:
    (group,) = [g for g in diff.task_groups if g.name == name]
    return group


def _task_notes(diff: JobDiff, group: str = "cache") -> dict[str, list[str] | None]:
    return {t.name: t.annotations for t in _group(diff, group).tasks}


class TestUpdates:
    def test_seed_count_change(self) -> None:
        diff = job_diff(example_job(), example_job(groups=[cache_group(count=3)]), True)

        out = annotate(diff, {"cache": DesiredUpdates(place=2, in_place_update=1)})

        group = _group(out)
        assert group.updates == {"create": 2, "in-place update": 1}
        assert group.fields == [
            FieldDiff(
                type=DiffType.EDITED, name="Count", old="1", new="3", annotations=["forces create"]
            )
        ]
        # the unchanged task gets no hint
        assert _task_notes(out) == {"redis": None}
        # the input diff is left as it was
        assert _group(diff).updates is None and diff.task_groups[0].fields[0].annotations is None

    def test_every_kind_is_named_and_zero_counts_are_omitted(self) -> None:
        desired = DesiredUpdates(
            ignore=1,
            place=2,
            migrate=3,
            stop=4,
            in_place_update=5,
            destructive_update=6,
            canary=7,
            preemptions=8,
        )
        diff = job_diff(example_job(), example_job())

        assert _group(annotate(diff, {"cache": desired})).updates == {
            "ignore": 1,
            "create": 2,
            "migrate": 3,
            "destroy": 4,
            "canary": 7,
            "in-place update": 5,
            "create/destroy update": 6,
        }
        assert _group(annotate(diff, {"cache": DesiredUpdates(ignore=3)})).updates == {"ignore": 3}

    def test_group_without_scheduler_counts_keeps_no_updates(self) -> None:
        diff = job_diff(example_job(), example_job())

        assert _group(annotate(diff, {"other": DesiredUpdates(place=1)})).updates is None

    def test_count_down_forces_destroy(self) -> None:
        diff = job_diff(example_job(groups=[cache_group(count=3)]), example_job())

        (count,) = _group(annotate(diff, {"cache": DesiredUpdates(stop=2, ignore=1)})).fields
        assert count.annotations == ["forces destroy"]


class TestTaskHints:
    def _annotated(self, **task_changes: Any) -> JobDiff:
        new = example_job(groups=[cache_group(tasks=[redis_task(**task_changes)])])
        return annotate(job_diff(example_job(), new, contextual=True), {})

    def test_config_change_is_destructive(self) -> None:
        out = self._annotated(config={"image": "redis:4.0", "port_map": [{"db": 6379}]})
        assert _task_notes(out) == {"redis": ["forces create/destroy update"]}

    def test_env_change_is_destructive(self) -> None:
        assert _task_notes(self._annotated(env={"A": "1"})) == {
            "redis": ["forces create/destroy update"]
        }

    def test_kill_timeout_service_and_constraint_changes_are_in_place(self) -> None:
        out = self._annotated(
            kill_timeout=10 * SEC,
            services=[Service(name="redis-cache", port_label="db")],
            constraints=[Constraint(l_target="${node.class}", r_target="fast")],
        )
        assert _task_notes(out) == {"redis": ["forces in-place update"]}

    def test_log_rotation_is_in_place_but_disabling_logs_is_not(self) -> None:
        rotated = self._annotated(log_config=LogConfig(max_files=3, max_file_size_mb=10))
        disabled = self._annotated(
            log_config=LogConfig(max_files=10, max_file_size_mb=10, disabled=True)
        )

        assert _task_notes(rotated) == {"redis": ["forces in-place update"]}
        assert _task_notes(disabled) == {"redis": ["forces create/destroy update"]}

    def test_tasks_of_added_and_deleted_groups(self) -> None:
        two_groups = example_job(groups=[cache_group(), cache_group(name="web")])

        added = annotate(job_diff(example_job(), two_groups), {})
        deleted = annotate(job_diff(two_groups, example_job()), {})

        assert _task_notes(added, "web") == {"redis": ["forces create"]}
        assert _task_notes(deleted, "web") == {"redis": ["forces destroy"]}
        assert [f.annotations for f in _group(added, "web").fields] == [["forces create"]]
        assert [f.annotations for f in _group(deleted, "web").fields] == [["forces destroy"]]

    def test_task_added_to_an_existing_group_is_a_destructive_update(self) -> None:
        sidecar = redis_task(name="sidecar")
        new = example_job(groups=[cache_group(tasks=[redis_task(), sidecar])])

        out = annotate(job_diff(example_job(), new), {})

        assert _task_notes(out) == {"redis": None, "sidecar": ["forces create/destroy update"]}
