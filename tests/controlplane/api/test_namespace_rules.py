"""Namespace validation, the job admission check, the API's Namespace decoding
and which events a token may receive: pure functions, no agent."""

from __future__ import annotations

import pytest

from controlplane.acl import ACL, MANAGEMENT
from controlplane.acl.capabilities import POLICY_READ
from controlplane.acl.model import READ, NamespaceRule
from controlplane.api.events import event_permission, parse_topics
from controlplane.api.namespaces import _decode, namespace_json
from controlplane.errors import PermissionDenied, ValidationError
from controlplane.server.namespace_endpoints import (
    check_job_namespace,
    namespace_problems,
    validate_namespace,
)
from controlplane.state import StateStore
from controlplane.state.events import Event
from controlplane.structs import Job, Namespace, Task, TaskGroup


def _job(ns: str, *drivers: str) -> Job:
    tasks = [Task(name=f"t{i}", driver=d) for i, d in enumerate(drivers)]
    return Job(id="web", namespace=ns, task_groups=[TaskGroup(name="g", tasks=tasks)])


@pytest.mark.parametrize("name", ["a", "team-1", "A" * 128, "default"])
def test_valid_names(name: str) -> None:
    assert namespace_problems(Namespace(name=name)) == []


@pytest.mark.parametrize("name", ["", "a_b", "a b", "a/b", "*", "A" * 129, "ns\n"])
def test_invalid_names(name: str) -> None:
    assert namespace_problems(Namespace(name=name)) == [
        f'invalid name "{name}". Must match regex ^[a-zA-Z0-9-]{{1,128}}$'
    ]


def test_every_problem_is_reported_with_nomads_multierror_shape() -> None:
    with pytest.raises(ValidationError) as err:
        validate_namespace(Namespace(name="a b", description="x" * 257, quota="q"), StateStore())
    assert err.value.message == (
        "3 errors occurred:\n"
        '\t* invalid name "a b". Must match regex ^[a-zA-Z0-9-]{1,128}$\n'
        "\t* description longer than 256\n"
        '\t* namespace "a b" references unknown quota "q"\n\n'
    )


def test_job_admission_needs_an_existing_namespace() -> None:
    store = StateStore()
    check_job_namespace(store, _job("default", "raw_exec"))  # default always exists
    with pytest.raises(ValidationError, match='job "web" is in nonexistent namespace "prod"'):
        check_job_namespace(store, _job("prod", "raw_exec"))
    store.upsert_namespaces(5, [Namespace(name="prod")])
    check_job_namespace(store, _job("prod", "raw_exec"))


def test_job_admission_honours_task_driver_capabilities() -> None:
    store = StateStore()
    store.upsert_namespaces(
        5,
        [
            Namespace(name="only-docker", capabilities={"EnabledTaskDrivers": ["docker"]}),
            Namespace(name="no-exec", capabilities={"DisabledTaskDrivers": ["exec", "raw_exec"]}),
        ],
    )
    check_job_namespace(store, _job("only-docker", "docker"))
    check_job_namespace(store, _job("no-exec", "docker"))
    with pytest.raises(ValidationError) as one:
        check_job_namespace(store, _job("only-docker", "docker", "exec"))
    assert one.value.message == 'used task driver "exec" is not allowed in namespace "only-docker"'
    with pytest.raises(ValidationError) as two:
        check_job_namespace(store, _job("no-exec", "raw_exec", "exec"))
    assert two.value.message == (
        'used task drivers ["exec" "raw_exec"] are not allowed in namespace "no-exec"'
    )


def test_decode_accepts_any_key_casing_and_checks_types() -> None:
    ns = _decode({"name": "a", "DESCRIPTION": "d", "Meta": {"k": "v"}})
    assert (ns.name, ns.description, ns.meta) == ("a", "d", {"k": "v"})
    with pytest.raises(ValidationError, match="Description must be a string"):
        _decode({"Name": "a", "Description": 3})
    with pytest.raises(ValidationError, match="EnabledTaskDrivers must be a list of strings"):
        _decode({"Name": "a", "Capabilities": {"EnabledTaskDrivers": "docker"}})


def test_namespace_json_has_nomads_fields() -> None:
    data = namespace_json(Namespace(name="a", quota="q"))
    assert data["Name"] == "a" and data["Quota"] == "q"
    for key in ("Description", "Meta", "Capabilities", "NodePoolConfiguration", "CreateIndex"):
        assert key in data


def _event(topic: str, ns: str) -> Event:
    return Event(topic, "T", "k", ns, None, 1, Namespace(name="x"))


def test_event_permissions() -> None:
    reader = ACL(namespaces=(NamespaceRule("a", POLICY_READ),))
    everything = parse_topics([])
    in_a = lambda ns: ns == "a"  # noqa: E731
    allowed = event_permission(reader, everything, in_a)
    assert allowed(_event("Job", "a")) and allowed(_event("Allocation", "a"))
    assert not allowed(_event("Job", "b"))
    assert not allowed(_event("Node", ""))
    assert not allowed(_event("ACLToken", ""))  # management only
    with_nodes = ACL(namespaces=reader.namespaces, node=READ)
    assert event_permission(with_nodes, everything, in_a)(_event("Node", ""))
    assert event_permission(MANAGEMENT, everything, in_a)(_event("ACLToken", ""))
    for topics in (["Node"], ["ACLToken"]):
        with pytest.raises(PermissionDenied):
            event_permission(reader, parse_topics(topics), in_a)
