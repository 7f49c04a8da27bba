"""Constraint operators and targets, checked against one node."""

from __future__ import annotations

import pytest
from sched_harness import node

from controlplane.scheduler.constraints import (
    constraint_string,
    node_satisfies,
    resolve_target,
    version_matches,
)
from controlplane.structs import Constraint

N = node(
    "n1",
    dc="dc-east",
    node_class="large",
    pool="gpu",
    attrs={
        "kernel.name": "linux",
        "cpu.numcores": "8",
        "cpu.frequency": "2400.5",
        "os.version": "22.04",
        "nomad.version": "1.7.3",
        "driver.docker.version": "24.0.5",
        "unique.storage.volume": "/dev/sda1",
        "tags": "ssd,fast, gpu",
    },
    meta={"rack": "r1", "team": "infra"},
)


def c(l_target: str, operand: str, r_target: str = "") -> Constraint:
    return Constraint(l_target=l_target, operand=operand, r_target=r_target)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("${node.unique.id}", ("n1", True)),
        ("${node.unique.name}", ("n1-name", True)),
        ("${node.datacenter}", ("dc-east", True)),
        ("${node.class}", ("large", True)),
        ("${node.pool}", ("gpu", True)),
        ("${attr.kernel.name}", ("linux", True)),
        ("${attr.missing}", ("", False)),
        ("${meta.rack}", ("r1", True)),
        ("${meta.nope}", ("", False)),
        ("${unknown.thing}", ("", False)),
        ("linux", ("linux", True)),
    ],
)
def test_resolve_target(target: str, expected: tuple[str, bool]) -> None:
    assert resolve_target(target, N) == expected


@pytest.mark.parametrize(
    ("constraint", "ok"),
    [
        (c("${attr.kernel.name}", "=", "linux"), True),
        (c("${attr.kernel.name}", "==", "linux"), True),
        (c("${attr.kernel.name}", "is", "windows"), False),
        (c("${attr.missing}", "=", ""), False),
        (c("${attr.kernel.name}", "!=", "windows"), True),
        (c("${attr.kernel.name}", "not", "linux"), False),
        # `!=` passes when the attribute is missing (Nomad semantics).
        (c("${attr.missing}", "!=", "x"), True),
        # numeric when both sides parse: 8 > 10 is false numerically, true lexically
        (c("${attr.cpu.numcores}", ">", "10"), False),
        (c("${attr.cpu.numcores}", ">=", "8"), True),
        (c("${attr.cpu.numcores}", "<", "10"), True),
        (c("${attr.cpu.numcores}", "<=", "7"), False),
        (c("${attr.cpu.frequency}", ">", "2400.1"), True),
        # lexical fallback
        (c("${node.datacenter}", "<", "dc-west"), True),
        (c("${attr.missing}", "<", "5"), False),
        (c("${attr.kernel.name}", "regexp", "^lin"), True),
        (c("${attr.kernel.name}", "regexp", "ux"), True),
        (c("${attr.kernel.name}", "regexp", "^win"), False),
        (c("${attr.kernel.name}", "regexp", "(["), False),
        (c("${attr.tags}", "set_contains", "ssd,gpu"), True),
        (c("${attr.tags}", "set_contains_all", "ssd,hdd"), False),
        (c("${attr.tags}", "set_contains_any", "hdd,fast"), True),
        (c("${attr.tags}", "set_contains_any", "hdd,nvme"), False),
        (c("${attr.unique.storage.volume}", "is_set"), True),
        (c("${attr.missing}", "is_set"), False),
        (c("${attr.missing}", "is_not_set"), True),
        (c("${attr.kernel.name}", "is_not_set"), False),
        (c("${attr.nomad.version}", "version", ">= 1.2, < 2.0"), True),
        (c("${attr.nomad.version}", "version", ">= 1.8"), False),
        (c("${attr.driver.docker.version}", "version", "~> 24.0"), True),
        (c("${attr.driver.docker.version}", "version", "~> 23.0"), False),
        (c("${meta.rack}", "=", "r1"), True),
        (c("${node.class}", "=", "large"), True),
        (c("${node.unique.id}", "!=", "n1"), False),
        (c("${attr.kernel.name}", "bogus-op", "linux"), False),
        # distinct_hosts is a plan-level check: never filters a lone node.
        (c("", "distinct_hosts", "true"), True),
    ],
)
def test_operators(constraint: Constraint, ok: bool) -> None:
    assert node_satisfies(constraint, N) is ok


@pytest.mark.parametrize(
    ("value", "spec", "ok"),
    [
        ("1.2.0", ">= 1.2, < 2.0", True),
        ("2.0.0", ">= 1.2, < 2.0", False),
        ("1.10.0", "> 1.9", True),  # segments compare numerically, not lexically
        ("v1.3", "= 1.3.0", True),
        ("1.3.0-beta1", ">= 1.2", False),  # prereleases don't satisfy plain terms
        ("1.3.0-beta2", ">= 1.3.0-beta1", True),
        ("1.2.9", "~> 1.2.3", True),
        ("1.3.0", "~> 1.2.3", False),
        ("1.5", "~> 1.2", True),
        ("2.0", "~> 1.2", False),
        ("1.2", "!= 1.2.0", False),
        ("not-a-version", ">= 1", False),
        ("1.2", ">= nope", False),
    ],
)
def test_version_matches(value: str, spec: str, ok: bool) -> None:
    assert version_matches(value, spec) is ok


def test_constraint_string_is_nomads_metric_key() -> None:
    assert constraint_string(c("${attr.kernel.name}", "=", "windows")) == (
        "${attr.kernel.name} = windows"
    )
