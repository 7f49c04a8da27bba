"""`job plan` text: the annotated diff, the dry-run summary and the exit code,
rendered from plan responses shaped as a Nomad server sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nomadtui.cli.plan_render import go_quote, plan_exit_code, render_diff, render_plan

CHECK_INDEX_PARAGRAPH = """\
When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""


def _field(kind: str, name: str, old: str = "", new: str = "", notes: Any = None) -> dict:
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": notes}


def _updates(**counts: int) -> dict[str, int]:
    keys = (
        "Ignore",
        "Place",
        "Migrate",
        "Stop",
        "InPlaceUpdate",
        "DestructiveUpdate",
        "Canary",
        "Preemptions",
    )
    return {k: counts.get(k, 0) for k in keys}


def seed_plan() -> dict[str, Any]:
    """The seed's `count = 1` -> `count = 3` plan of the `example` job."""
    return {
        "Annotations": {
            "DesiredTGUpdates": {"cache": _updates(Place=2, InPlaceUpdate=1)},
            "PreemptedAllocs": None,
        },
        "FailedTGAllocs": None,
        "JobModifyIndex": 10,
        "CreatedEvals": None,
        "Diff": {
            "Type": "Edited",
            "ID": "example",
            "Fields": None,
            "Objects": None,
            "TaskGroups": [
                {
                    "Type": "Edited",
                    "Name": "cache",
                    "Fields": [_field("Edited", "Count", "1", "3", ["forces create"])],
                    "Objects": None,
                    "Tasks": [
                        {
                            "Type": "None",
                            "Name": "redis",
                            "Fields": None,
                            "Objects": None,
                            "Annotations": None,
                        }
                    ],
                    "Updates": {"create": 2, "in-place update": 1},
                }
            ],
        },
        "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
        "Warnings": "",
        "Index": 10,
    }


def image_plan() -> dict[str, Any]:
    """redis:3.2 -> redis:4.0 with a rolling update of one allocation at a time."""
    return {
        "Annotations": {
            "DesiredTGUpdates": {"cache": _updates(Ignore=2, DestructiveUpdate=1)},
            "PreemptedAllocs": None,
        },
        "FailedTGAllocs": None,
        "JobModifyIndex": 42,
        "CreatedEvals": [
            {"ID": "b1", "TriggeredBy": "queued-allocs", "Wait": 0},
            {"ID": "r1", "TriggeredBy": "rolling-update", "Wait": 10_000_000_000},
        ],
        "Diff": {
            "Type": "Edited",
            "ID": "example",
            "Fields": [],
            "Objects": [],
            "TaskGroups": [
                {
                    "Type": "Edited",
                    "Name": "cache",
                    "Fields": [],
                    "Objects": [],
                    "Tasks": [
                        {
                            "Type": "Edited",
                            "Name": "redis",
                            "Fields": [],
                            "Objects": [
                                {
                                    "Type": "Edited",
                                    "Name": "Config",
                                    "Fields": [
                                        _field("Edited", "image", "redis:3.2", "redis:4.0"),
                                        _field("None", "port_map[0][db]", "6379", "6379"),
                                    ],
                                    "Objects": [],
                                }
                            ],
                            "Annotations": ["forces create/destroy update"],
                        }
                    ],
                    "Updates": {"ignore": 2, "create/destroy update": 1},
                }
            ],
        },
        "Warnings": "",
    }


def new_job_diff() -> dict[str, Any]:
    """A brand new job: everything Added."""
    return {
        "Type": "Added",
        "ID": "example",
        "Fields": [_field("Added", "Name", new="example"), _field("Added", "Priority", new="50")],
        "Objects": [
            {
                "Type": "Added",
                "Name": "Datacenters",
                "Fields": [_field("Added", "Datacenters", new="dc1")],
                "Objects": None,
            }
        ],
        "TaskGroups": [
            {
                "Type": "Added",
                "Name": "cache",
                "Fields": [_field("Added", "Count", new="1", notes=["forces create"])],
                "Objects": None,
                "Tasks": [
                    {
                        "Type": "Added",
                        "Name": "redis",
                        "Fields": [_field("Added", "Driver", new="docker")],
                        "Objects": [
                            {
                                "Type": "Added",
                                "Name": "Config",
                                "Fields": [_field("Added", "image", new="redis:3.2")],
                                "Objects": None,
                            }
                        ],
                        "Annotations": ["forces create"],
                    }
                ],
                "Updates": {"create": 1},
            }
        ],
    }


class TestSeedPlan:
    def test_count_change_prints_exactly_as_the_seed(self) -> None:
        text, code = render_plan(seed_plan(), "example.nomad")

        assert text == (
            '+/- Job: "example"\n'
            '+/- Task Group: "cache" (2 create, 1 in-place update)\n'
            '  +/- Count: "1" => "3" (forces create)\n'
            '      Task: "redis"\n'
            "\n"
            "Scheduler dry-run:\n"
            "- All tasks successfully allocated.\n"
            "\n"
            "Job Modify Index: 10\n"
            "To submit the job with version verification run:\n"
            "\n"
            "nomadtui job run -check-index 10 example.nomad\n"
            "\n" + CHECK_INDEX_PARAGRAPH
        )
        # two allocations are created
        assert code == 1

    def test_diff_false_leaves_only_the_dry_run(self) -> None:
        text, code = render_plan(seed_plan(), "jobs/example.nomad", diff=False)

        assert text.startswith("Scheduler dry-run:\n- All tasks successfully allocated.\n\n")
        assert "nomadtui job run -check-index 10 jobs/example.nomad\n" in text
        assert "Job:" not in text
        assert code == 1


def test_destructive_change_with_a_rolling_update() -> None:
    text, code = render_plan(image_plan(), "example.nomad")

    assert text == (
        '+/- Job: "example"\n'
        '+/- Task Group: "cache" (1 create/destroy update, 2 ignore)\n'
        '  +/- Task: "redis" (forces create/destroy update)\n'
        "    +/- Config {\n"
        '      +/- image:           "redis:3.2" => "redis:4.0"\n'
        '          port_map[0][db]: "6379"\n'
        "        }\n"
        "\n"
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "- Rolling update, next evaluation will be in 10s.\n"
        "\n"
        "Job Modify Index: 42\n"
        "To submit the job with version verification run:\n"
        "\n"
        "nomadtui job run -check-index 42 example.nomad\n"
        "\n" + CHECK_INDEX_PARAGRAPH
    )
    assert code == 1


class TestPlacementFailure:
    def _failing_plan(self) -> dict[str, Any]:
        return {
            "Annotations": {
                "DesiredTGUpdates": {"cache": _updates(Place=1), "web": _updates(Place=3)},
                "PreemptedAllocs": None,
            },
            "FailedTGAllocs": {
                "web": {
                    "NodesEvaluated": 1,
                    "NodesExhausted": 1,
                    "DimensionExhausted": {"memory": 1},
                    "CoalescedFailures": 2,
                },
                "cache": {"NodesEvaluated": 0, "NodesAvailable": {"dc1": 0}},
            },
            "JobModifyIndex": 0,
            "CreatedEvals": [{"ID": "b", "TriggeredBy": "queued-allocs", "Status": "blocked"}],
            "Diff": new_job_diff(),
            "Warnings": "",
        }

    def test_failed_groups_are_listed_with_their_reasons(self) -> None:
        text, code = render_plan(self._failing_plan(), "example.nomad")

        assert text == (
            '+ Job: "example"\n'
            '+ Task Group: "cache" (1 create)\n'
            '  + Task: "redis" (forces create)\n'
            "\n"
            "Scheduler dry-run:\n"
            "- WARNING: Failed to place all allocations.\n"
            '  Task Group "cache" (failed to place 1 allocation):\n'
            "    * No nodes were eligible for evaluation\n"
            '    * No nodes are available in datacenter "dc1"\n'
            "\n"
            '  Task Group "web" (failed to place 3 allocations):\n'
            "    * Resources exhausted on 1 nodes\n"
            '    * Dimension "memory" exhausted on 1 nodes\n'
            "\n"
            "Job Modify Index: 0\n"
            "To submit the job with version verification run:\n"
            "\n"
            "nomadtui job run -check-index 0 example.nomad\n"
            "\n" + CHECK_INDEX_PARAGRAPH
        )
        assert code == 1

    def test_system_jobs_fail_on_all_nodes(self) -> None:
        text, _ = render_plan(self._failing_plan(), "fabio.nomad", job_type="system")

        assert "\n- WARNING: Failed to place allocations on all nodes.\n" in text

    def test_rolling_update_line_follows_a_blank_line_after_failures(self) -> None:
        resp = self._failing_plan()
        resp["CreatedEvals"] = [{"TriggeredBy": "rolling-update", "Wait": 90_000_000_000}]

        text, _ = render_plan(resp, "example.nomad", diff=False)

        assert (
            '    * Dimension "memory" exhausted on 1 nodes\n'
            "\n"
            "- Rolling update, next evaluation will be in 1m30s.\n"
            "\n"
            "Job Modify Index: 0\n"
        ) in text


class TestDiffLayout:
    def test_new_job_shows_only_headers_unless_verbose(self) -> None:
        assert render_diff(new_job_diff(), verbose=False) == (
            '+ Job: "example"\n+ Task Group: "cache" (1 create)\n  + Task: "redis" (forces create)'
        )

    def test_verbose_expands_added_fields_and_objects(self) -> None:
        assert render_diff(new_job_diff(), verbose=True) == (
            '+ Job: "example"\n'
            '+ Name:     "example"\n'
            '+ Priority: "50"\n'
            "+ Datacenters {\n"
            '  + Datacenters: "dc1"\n'
            "  }\n"
            '+ Task Group: "cache" (1 create)\n'
            '  + Count: "1" (forces create)\n'
            '  + Task: "redis" (forces create)\n'
            '    + Driver: "docker"\n'
            "    + Config {\n"
            '      + image: "redis:3.2"\n'
            "      }"
        )

    def test_markers_of_mixed_groups_are_aligned_and_groups_spaced(self) -> None:
        diff = {
            "Type": "Edited",
            "ID": "example",
            "Fields": None,
            "Objects": None,
            "TaskGroups": [
                {
                    "Type": "Edited",
                    "Name": "cache",
                    "Fields": [_field("Edited", "Count", "1", "2", ["forces create"])],
                    "Tasks": [{"Type": "None", "Name": "redis"}],
                    "Updates": {"create": 1, "in-place update": 1, "ignore": 0},
                },
                {
                    "Type": "Deleted",
                    "Name": "old",
                    "Fields": [_field("Deleted", "Count", old="1", notes=["forces destroy"])],
                    "Tasks": [{"Type": "Deleted", "Name": "x", "Annotations": ["forces destroy"]}],
                    "Updates": {"destroy": 1},
                },
            ],
        }

        assert render_diff(diff, verbose=False) == (
            '+/- Job: "example"\n'
            '+/- Task Group: "cache" (1 create, 1 in-place update)\n'
            '  +/- Count: "1" => "2" (forces create)\n'
            '      Task: "redis"\n'
            "\n"
            '-   Task Group: "old" (1 destroy)\n'
            '    - Task: "x" (forces destroy)'
        )

    def test_edited_job_fields_and_deleted_values(self) -> None:
        diff = {
            "Type": "Edited",
            "ID": "example",
            "Fields": [
                _field("Added", "Meta[team]", new="red"),
                _field("Deleted", "Meta[tier]", old="1"),
                _field("Edited", "Priority", "50", "70"),
            ],
            "Objects": [
                {
                    "Type": "Added",
                    "Name": "Datacenters",
                    "Fields": [_field("Added", "Datacenters", new="dc2")],
                    "Objects": None,
                }
            ],
            "TaskGroups": [{"Type": "None", "Name": "cache", "Tasks": None}],
        }

        assert render_diff(diff, verbose=False) == (
            '+/- Job: "example"\n'
            '+   Meta[team]: "red"\n'
            '-   Meta[tier]: "1"\n'
            '+/- Priority:   "50" => "70"\n'
            "+   Datacenters {\n"
            '    + Datacenters: "dc2"\n'
            "    }\n"
            '    Task Group: "cache"'
        )

    def test_values_are_quoted_like_go(self) -> None:
        assert go_quote('say "hi"\n\ttab\\') == '"say \\"hi\\"\\n\\ttab\\\\"'
        assert go_quote("\x1b[0m é") == '"\\x1b[0m é"'


class TestExitCode:
    @pytest.mark.parametrize(
        ("counts", "code"),
        [
            (_updates(InPlaceUpdate=3), 0),
            (_updates(Ignore=3), 0),
            (_updates(Place=1), 1),
            (_updates(Stop=1), 1),
            (_updates(Migrate=1), 1),
            (_updates(DestructiveUpdate=1), 1),
            (_updates(Canary=1), 1),
        ],
    )
    def test_only_created_or_destroyed_allocations_exit_1(
        self, counts: dict[str, int], code: int
    ) -> None:
        resp = seed_plan()
        resp["Annotations"]["DesiredTGUpdates"] = {"cache": counts}

        assert plan_exit_code(resp) == code
        assert render_plan(resp, "example.nomad")[1] == code

    def test_an_unchanged_job_exits_0(self) -> None:
        resp = seed_plan()
        resp["Diff"] = {"Type": "None", "ID": "example", "TaskGroups": []}

        assert plan_exit_code(resp) == 0

    def test_missing_annotations_exit_0(self) -> None:
        assert plan_exit_code({"Diff": None, "Annotations": None}) == 0


def test_warnings_and_preemptions_come_before_the_index() -> None:
    resp = seed_plan()
    resp["Warnings"] = '1 warning:\n\n* Group "cache" has warnings'
    resp["Annotations"]["PreemptedAllocs"] = [
        {"ID": "0f09c03d-1111-2222-3333-444455556666", "JobID": "batchy", "TaskGroup": "work"}
    ]

    text, _ = render_plan(resp, "example.nomad", diff=False)

    assert text.startswith(
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "\n"
        "Job Warnings:\n"
        "1 warning:\n"
        "\n"
        '* Group "cache" has warnings\n'
        "\n"
        "Preemptions:\n"
        "\n"
        "Alloc ID                              Job ID  Task Group\n"
        "0f09c03d-1111-2222-3333-444455556666  batchy  work\n"
        "Job Modify Index: 10\n"
    )


def test_next_periodic_launch() -> None:
    resp = seed_plan()
    resp["NextPeriodicLaunch"] = "2024-05-01T12:00:00Z"
    now = datetime(2024, 5, 1, 11, 30, tzinfo=UTC)

    text, _ = render_plan(resp, "cron.nomad", diff=False, now=now)

    assert text.startswith(
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "- If submitted now, next periodic launch would be at 2024-05-01T12:00:00Z"
        " (30m0s from now).\n"
        "\n"
    )
