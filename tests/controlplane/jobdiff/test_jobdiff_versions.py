"""diff_versions: the `Diffs` of `/v1/job/:id/versions?diffs=true`."""

from __future__ import annotations

from jobdiff_jobs import cache_group, example_job, redis_task

from controlplane.jobdiff import DiffType, FieldDiff, diff_versions


def test_each_version_against_the_previous_newest_first() -> None:
    v0 = example_job(version=0)
    v1 = example_job(version=1, groups=[cache_group(count=3)])
    v2 = example_job(
        version=2, groups=[cache_group(count=3, tasks=[redis_task(image="redis:4.0")])]
    )

    diffs = diff_versions([v2, v1, v0])

    assert len(diffs) == 2
    newest, oldest = diffs
    # v1 -> v2: the image, shown with its config for context and no plan hints
    (task,) = newest.task_groups[0].tasks
    assert task.type == DiffType.EDITED
    assert task.annotations is None
    (config,) = task.objects
    assert config.fields == [
        FieldDiff(type=DiffType.EDITED, name="image", old="redis:3.2", new="redis:4.0"),
        FieldDiff(type=DiffType.NONE, name="port_map[0][db]", old="6379", new="6379"),
    ]
    assert newest.task_groups[0].fields == []
    # v0 -> v1: the count
    assert oldest.task_groups[0].fields == [
        FieldDiff(type=DiffType.EDITED, name="Count", old="1", new="3")
    ]
    assert oldest.task_groups[0].updates is None


def test_versions_are_ordered_by_version_whatever_the_input_order() -> None:
    v0 = example_job(version=0)
    v1 = example_job(version=1, meta={"a": "1"})

    assert diff_versions([v0, v1]) == diff_versions([v1, v0])
    (diff,) = diff_versions([v0, v1])
    assert diff.fields == [FieldDiff(type=DiffType.ADDED, name="Meta[a]", new="1")]


def test_a_single_version_has_no_diffs() -> None:
    assert diff_versions([example_job()]) == []
    assert diff_versions([]) == []
