"""job_diff: the JobDiff tree of two job versions, as Nomad builds it."""

from __future__ import annotations

import pytest
from jobdiff_jobs import cache_group, example_job, redis_task

from controlplane.jobdiff import (
    DiffType,
    FieldDiff,
    JobDiff,
    ObjectDiff,
    TaskDiff,
    TaskGroupDiff,
    job_diff,
)
from controlplane.structs import (
    SEC,
    Constraint,
    NetworkResource,
    Port,
    Service,
    ServiceCheck,
    Spread,
    SpreadTarget,
    to_builtins,
)

ADDED, DELETED, EDITED, NONE = DiffType.ADDED, DiffType.DELETED, DiffType.EDITED, DiffType.NONE


def _group(diff: JobDiff, name: str = "cache") -> TaskGroupDiff:
    (group,) = [g for g in diff.task_groups if g.name == name]
    return group


def _task(diff: JobDiff, name: str = "redis", group: str = "cache") -> TaskDiff:
    (task,) = [t for t in _group(diff, group).tasks if t.name == name]
    return task


def _objects(node: JobDiff | TaskGroupDiff | TaskDiff | ObjectDiff, name: str) -> list[ObjectDiff]:
    return [o for o in node.objects if o.name == name]


class TestCountChange:
    """The seed's edit: `count = 1` becomes `count = 3`."""

    def test_only_the_count_field_changes(self) -> None:
        diff = job_diff(example_job(), example_job(groups=[cache_group(count=3)]), contextual=True)

        assert diff.type == EDITED
        assert diff.id == "example"
        assert diff.fields == [] and diff.objects == []
        group = _group(diff)
        assert group.type == EDITED
        assert group.fields == [FieldDiff(type=EDITED, name="Count", old="1", new="3")]
        assert group.objects == []
        # the task itself is untouched: listed, unannotated, Type None
        assert group.tasks == [TaskDiff(type=NONE, name="redis")]
        assert group.updates is None

    def test_json_shape_uses_nomad_names(self) -> None:
        diff = job_diff(example_job(), example_job(groups=[cache_group(count=3)]))
        wire = to_builtins(diff)

        assert set(wire) == {"Type", "ID", "Fields", "Objects", "TaskGroups"}
        group = wire["TaskGroups"][0]
        assert set(group) == {"Type", "Name", "Fields", "Objects", "Tasks", "Updates"}
        assert group["Fields"][0] == {
            "Type": "Edited",
            "Name": "Count",
            "Old": "1",
            "New": "3",
            "Annotations": None,
        }
        assert set(group["Tasks"][0]) == {"Type", "Name", "Fields", "Objects", "Annotations"}


def test_identical_jobs_give_type_none_even_when_bookkeeping_fields_differ() -> None:
    old = example_job()
    new = old.replace(
        version=4,
        status="dead",
        status_description="stopped",
        stable=True,
        submit_time=old.submit_time + 1,
        create_index=1,
        modify_index=99,
        job_modify_index=99,
    )

    diff = job_diff(old, new, contextual=True)

    assert diff.type == NONE
    assert diff.fields == [] and diff.objects == []
    assert [(g.name, g.type) for g in diff.task_groups] == [("cache", NONE)]


def test_jobs_with_different_ids_cannot_be_diffed() -> None:
    with pytest.raises(ValueError, match="different IDs"):
        job_diff(example_job(), example_job(id="other"))


class TestImageChange:
    def test_contextual_config_shows_the_unchanged_keys_too(self) -> None:
        diff = job_diff(
            example_job(),
            example_job(groups=[cache_group(tasks=[redis_task(image="redis:4.0")])]),
            contextual=True,
        )

        task = _task(diff)
        assert task.type == EDITED
        assert task.fields == []
        assert task.objects == [
            ObjectDiff(
                type=EDITED,
                name="Config",
                fields=[
                    FieldDiff(type=EDITED, name="image", old="redis:3.2", new="redis:4.0"),
                    FieldDiff(type=NONE, name="port_map[0][db]", old="6379", new="6379"),
                ],
            )
        ]
        # annotations are the annotator's job, not the diff's
        assert task.annotations is None

    def test_non_contextual_config_lists_only_the_change(self) -> None:
        diff = job_diff(
            example_job(),
            example_job(groups=[cache_group(tasks=[redis_task(image="redis:4.0")])]),
        )

        (config,) = _task(diff).objects
        assert [f.name for f in config.fields] == ["image"]


class TestGroupsAndTasks:
    def test_added_group_lists_every_set_field_as_added(self) -> None:
        web = cache_group(name="web", count=2)
        diff = job_diff(example_job(), example_job(groups=[cache_group(), web]))

        assert [(g.name, g.type) for g in diff.task_groups] == [("cache", NONE), ("web", ADDED)]
        added = _group(diff, "web")
        assert added.fields == [FieldDiff(type=ADDED, name="Count", new="2")]
        assert [o.name for o in added.objects] == ["RestartPolicy", "EphemeralDisk"]
        assert all(o.type == ADDED for o in added.objects)
        restart = _objects(added, "RestartPolicy")[0]
        assert FieldDiff(type=ADDED, name="Interval", new=str(30 * 60 * SEC)) in restart.fields
        (task,) = added.tasks
        assert task.type == ADDED
        assert FieldDiff(type=ADDED, name="Driver", new="docker") in task.fields
        assert [o.name for o in task.objects] == [
            "Config",
            "Resources",
            "LogConfig",
            "Service",
        ]

    def test_deleted_group_lists_old_values(self) -> None:
        old = example_job(groups=[cache_group(), cache_group(name="web", count=2)])
        diff = job_diff(old, example_job())

        assert diff.type == EDITED
        deleted = _group(diff, "web")
        assert deleted.type == DELETED
        assert deleted.fields == [FieldDiff(type=DELETED, name="Count", old="2")]
        assert [t.type for t in deleted.tasks] == [DELETED]

    def test_task_added_and_deleted_in_an_edited_group(self) -> None:
        sidecar = redis_task(name="sidecar", driver="exec", config={"command": "/bin/true"})
        old = example_job()
        new = example_job(groups=[cache_group(tasks=[sidecar])])

        diff = job_diff(old, new)

        group = _group(diff)
        assert group.type == EDITED
        assert group.fields == []
        # tasks are matched by name, and listed sorted by name
        assert [(t.name, t.type) for t in group.tasks] == [("redis", DELETED), ("sidecar", ADDED)]
        assert FieldDiff(type=DELETED, name="Driver", old="docker") in group.tasks[0].fields
        assert FieldDiff(type=ADDED, name="Driver", new="exec") in group.tasks[1].fields

    def test_new_job_is_added_with_its_primitive_fields(self) -> None:
        diff = job_diff(None, example_job())

        assert diff.type == ADDED
        names = {f.name: f for f in diff.fields}
        assert names["Name"] == FieldDiff(type=ADDED, name="Name", new="example")
        assert names["Priority"].new == "50"
        # bookkeeping fields never show, empty strings count as absent
        assert not {"ID", "Version", "Status", "SubmitTime", "ParentID"} & names.keys()
        assert diff.objects == [
            ObjectDiff(
                type=ADDED,
                name="Datacenters",
                fields=[FieldDiff(type=ADDED, name="Datacenters", new="dc1")],
            )
        ]
        assert [(g.name, g.type) for g in diff.task_groups] == [("cache", ADDED)]


class TestMaps:
    def test_meta_entries_are_flattened_fields(self) -> None:
        old = example_job(meta={"owner": "ops", "tier": "1"})
        new = example_job(meta={"owner": "dev", "team": "red"})

        diff = job_diff(old, new)

        assert diff.type == EDITED
        assert diff.fields == [
            FieldDiff(type=EDITED, name="Meta[owner]", old="ops", new="dev"),
            FieldDiff(type=ADDED, name="Meta[team]", new="red"),
            FieldDiff(type=DELETED, name="Meta[tier]", old="1"),
        ]

    def test_task_env_and_group_meta(self) -> None:
        old = example_job(groups=[cache_group(meta={"a": "1"})])
        new = example_job(
            groups=[cache_group(meta={"a": "2"}, tasks=[redis_task(env={"MODE": "fast"})])]
        )

        diff = job_diff(old, new)

        assert _group(diff).fields == [FieldDiff(type=EDITED, name="Meta[a]", old="1", new="2")]
        assert _task(diff).fields == [FieldDiff(type=ADDED, name="Env[MODE]", new="fast")]


class TestNetworks:
    def _with_ports(self, *ports: Port, dynamic: bool = True) -> NetworkResource:
        if dynamic:
            return NetworkResource(mbits=10, dynamic_ports=list(ports))
        return NetworkResource(mbits=10, reserved_ports=list(ports))

    def test_changed_network_is_a_deleted_and_an_added_network(self) -> None:
        old = example_job(groups=[cache_group(networks=[self._with_ports(Port(label="http"))])])
        new = example_job(
            groups=[
                cache_group(
                    networks=[self._with_ports(Port(label="http"), Port(label="admin", to=9000))]
                )
            ]
        )

        diff = job_diff(old, new)

        networks = _objects(_group(diff), "Network")
        assert [n.type for n in networks] == [ADDED, DELETED]
        added = networks[0]
        assert FieldDiff(type=ADDED, name="MBits", new="10") in added.fields
        assert [(o.name, o.type) for o in added.objects] == [
            ("Dynamic Port", ADDED),
            ("Dynamic Port", ADDED),
        ]
        labels = [f.new for o in added.objects for f in o.fields if f.name == "Label"]
        assert sorted(labels) == ["admin", "http"]
        # a dynamic port's value is assigned at placement: never diffed
        assert all(f.name != "Value" for o in added.objects for f in o.fields)

    def test_static_port_keeps_its_value(self) -> None:
        new = example_job(
            groups=[
                cache_group(
                    networks=[self._with_ports(Port(label="lb", value=9999), dynamic=False)]
                )
            ]
        )

        diff = job_diff(example_job(), new)

        (network,) = _objects(_group(diff), "Network")
        (port,) = network.objects
        assert port.name == "Static Port"
        assert FieldDiff(type=ADDED, name="Value", new="9999") in port.fields

    def test_task_resources_network_port_rename(self) -> None:
        old_res = redis_task().resources
        assert old_res is not None
        renamed = old_res.replace(
            networks=[NetworkResource(mbits=10, dynamic_ports=[Port(label="redis")])]
        )
        new = example_job(groups=[cache_group(tasks=[redis_task(resources=renamed)])])

        diff = job_diff(example_job(), new, contextual=True)

        (resources,) = _objects(_task(diff), "Resources")
        assert resources.type == EDITED
        # contextual: the unchanged primitive fields are listed for context
        assert FieldDiff(type=NONE, name="CPU", old="500", new="500") in resources.fields
        assert FieldDiff(type=NONE, name="MemoryMB", old="256", new="256") in resources.fields
        assert [(o.name, o.type) for o in resources.objects] == [
            ("Network", ADDED),
            ("Network", DELETED),
        ]


class TestContextual:
    def test_service_edit_shows_unchanged_fields_and_tags(self) -> None:
        svc = Service(
            name="redis-cache",
            tags=["global", "cache", "v2"],
            port_label="db",
            checks=[ServiceCheck(name="alive", type="tcp", interval=10 * SEC, timeout=2 * SEC)],
        )
        new = example_job(groups=[cache_group(tasks=[redis_task(services=[svc])])])

        plain = _objects(_task(job_diff(example_job(), new)), "Service")[0]
        contextual = _objects(_task(job_diff(example_job(), new, contextual=True)), "Service")[0]

        assert plain.type == contextual.type == EDITED
        assert plain.fields == []
        assert plain.objects == [
            ObjectDiff(
                type=ADDED, name="Tags", fields=[FieldDiff(type=ADDED, name="Tags", new="v2")]
            )
        ]
        assert FieldDiff(type=NONE, name="Name", old="redis-cache", new="redis-cache") in (
            contextual.fields
        )
        (tags,) = [o for o in contextual.objects if o.name == "Tags"]
        # ordered by name, then old value, then new value (Nomad's order)
        assert tags.fields == [
            FieldDiff(type=ADDED, name="Tags", new="v2"),
            FieldDiff(type=NONE, name="Tags", old="cache", new="cache"),
            FieldDiff(type=NONE, name="Tags", old="global", new="global"),
        ]

    def test_unchanged_blocks_stay_out_even_in_contextual_mode(self) -> None:
        new = example_job(groups=[cache_group(tasks=[redis_task(kill_timeout=9 * SEC)])])

        diff = job_diff(example_job(), new, contextual=True)

        task = _task(diff)
        assert task.fields == [
            FieldDiff(type=EDITED, name="KillTimeout", old=str(5 * SEC), new=str(9 * SEC))
        ]
        assert task.objects == []
        # the job's datacenters did not change: no Type None object for them
        assert diff.objects == []

    def test_check_edit_with_durations_in_nanoseconds(self) -> None:
        svc = Service(
            name="redis-cache",
            tags=["global", "cache"],
            port_label="db",
            checks=[ServiceCheck(name="alive", type="tcp", interval=30 * SEC, timeout=2 * SEC)],
        )
        new = example_job(groups=[cache_group(tasks=[redis_task(services=[svc])])])

        diff = job_diff(example_job(), new)

        (service,) = _objects(_task(diff), "Service")
        (check,) = service.objects
        assert check == ObjectDiff(
            type=EDITED,
            name="Check",
            fields=[FieldDiff(type=EDITED, name="Interval", old="10000000000", new="30000000000")],
        )


class TestPlacementBlocks:
    def test_datacenters_and_constraints(self) -> None:
        old = example_job(
            constraints=[Constraint(l_target="${attr.kernel.name}", r_target="linux")]
        )
        new = example_job(
            datacenters=["dc1", "dc2"],
            constraints=[Constraint(l_target="${attr.kernel.name}", r_target="darwin")],
        )

        diff = job_diff(old, new)

        assert [(o.name, o.type) for o in diff.objects] == [
            ("Datacenters", ADDED),
            ("Constraint", ADDED),
            ("Constraint", DELETED),
        ]
        assert diff.objects[0].fields == [FieldDiff(type=ADDED, name="Datacenters", new="dc2")]
        deleted = diff.objects[2]
        assert FieldDiff(type=DELETED, name="RTarget", old="linux") in deleted.fields

    def test_spread_with_targets(self) -> None:
        spread = Spread(
            attribute="${node.datacenter}",
            weight=100,
            spread_target=[SpreadTarget(value="dc1", percent=70)],
        )
        diff = job_diff(example_job(), example_job(groups=[cache_group(spreads=[spread])]))

        (obj,) = _objects(_group(diff), "Spread")
        assert obj.type == ADDED
        assert FieldDiff(type=ADDED, name="Attribute", new="${node.datacenter}") in obj.fields
        assert obj.objects == [
            ObjectDiff(
                type=ADDED,
                name="SpreadTarget",
                fields=[
                    FieldDiff(type=ADDED, name="Percent", new="70"),
                    FieldDiff(type=ADDED, name="Value", new="dc1"),
                ],
            )
        ]


def test_group_update_block_ignores_stagger() -> None:
    from controlplane.structs import UpdateStrategy

    old = example_job(groups=[cache_group(update=UpdateStrategy(max_parallel=1, stagger=30 * SEC))])
    new = example_job(groups=[cache_group(update=UpdateStrategy(max_parallel=2, stagger=10 * SEC))])

    (update,) = _objects(_group(job_diff(old, new)), "Update")

    assert update.fields == [FieldDiff(type=EDITED, name="MaxParallel", old="1", new="2")]


def test_group_shutdown_delay_is_diffed_although_optional() -> None:
    old = example_job()
    new = example_job(groups=[cache_group(shutdown_delay=5 * SEC)])

    diff = job_diff(old, new)

    assert _group(diff).fields == [FieldDiff(type=ADDED, name="ShutdownDelay", new="5000000000")]


def test_templates_match_by_destination_and_artifacts_as_a_set() -> None:
    conf = {"DestPath": "local/app.conf", "EmbeddedTmpl": "port=1", "ChangeMode": "restart"}
    env = {"DestPath": "secrets/env", "EmbeddedTmpl": "A=1", "Envvars": True}
    artifact = {"GetterSource": "https://example.com/a.tgz", "RelativeDest": "local/"}
    old = example_job(groups=[cache_group(tasks=[redis_task(templates=[conf, env])])])
    new = example_job(
        groups=[
            cache_group(
                tasks=[
                    redis_task(
                        templates=[{**conf, "EmbeddedTmpl": "port=2"}, env],
                        artifacts=[artifact],
                    )
                ]
            )
        ]
    )

    task = _task(job_diff(old, new))

    assert [(o.name, o.type) for o in task.objects] == [("Artifact", ADDED), ("Template", EDITED)]
    assert task.objects[0].fields == [
        FieldDiff(type=ADDED, name="GetterSource", new="https://example.com/a.tgz"),
        FieldDiff(type=ADDED, name="RelativeDest", new="local/"),
    ]
    assert task.objects[1].fields == [
        FieldDiff(type=EDITED, name="EmbeddedTmpl", old="port=1", new="port=2")
    ]
