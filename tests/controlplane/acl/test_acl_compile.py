"""Compiling policies into an ACL: merging, deny wins, the closest glob governs."""

from __future__ import annotations

from controlplane.acl import ACL, MANAGEMENT, compile_acl, parse
from controlplane.acl import capabilities as caps


def acl_of(*rules: str) -> ACL:
    return compile_acl([parse(r) for r in rules])


def test_rules_of_the_same_glob_merge_their_capabilities() -> None:
    acl = acl_of(
        'namespace "default" { capabilities = ["list-jobs"] }',
        'namespace "default" { capabilities = ["submit-job"] }',
    )
    assert acl.namespace_capabilities("default") == {"list-jobs", "submit-job"}


def test_deny_for_a_glob_wins_whatever_the_order() -> None:
    for rules in (
        ('namespace "a" { policy = "write" }', 'namespace "a" { policy = "deny" }'),
        ('namespace "a" { capabilities = ["deny"] }', 'namespace "a" { policy = "write" }'),
    ):
        acl = acl_of(*rules)
        assert not acl.allow_namespace_operation("a", caps.READ_JOB)
        assert not acl.allow_namespace("a")


def test_closest_glob_governs() -> None:
    acl = acl_of(
        'namespace "*" { policy = "read" }',
        'namespace "prod-*" { policy = "deny" }',
        'namespace "prod-api" { policy = "write" }',
        'namespace "prod-api-*" { policy = "scale" }',
    )
    assert acl.allow_namespace_operation("dev", caps.READ_JOB)
    assert not acl.allow_namespace_operation("dev", caps.SUBMIT_JOB)
    # prod-* is closer than * for prod-db: denied
    assert not acl.allow_namespace("prod-db")
    # the exact rule beats every glob
    assert acl.allow_namespace_operation("prod-api", caps.SUBMIT_JOB)
    # prod-api-* (1 char left over) beats prod-* (7 left over)
    assert acl.namespace_capabilities("prod-api-x") == caps.POLICY_SCALE


def test_deny_on_a_wildcard_does_not_override_an_exact_rule() -> None:
    acl = acl_of('namespace "*" { policy = "deny" }', 'namespace "default" { policy = "read" }')
    assert acl.allow_namespace_operation("default", caps.LIST_JOBS)
    assert not acl.allow_namespace("other")


def test_all_namespaces_sentinel_asks_any_namespace() -> None:
    acl = acl_of('namespace "a" { policy = "read" }', 'namespace "b" { policy = "deny" }')
    assert acl.allow_namespace_operation("*", caps.LIST_JOBS)
    assert not acl.allow_namespace_operation("*", caps.SUBMIT_JOB)
    assert acl.allow_namespace("*")
    assert not acl_of('namespace "b" { policy = "deny" }').allow_namespace("*")


def test_coarse_levels_take_most_privilege_but_deny_wins() -> None:
    acl = acl_of('node { policy = "read" }', 'node { policy = "write" }')
    assert acl.allow_node_read() and acl.allow_node_write()
    acl = acl_of(
        'agent { policy = "write" }', 'agent { policy = "deny" }', 'agent { policy = "read" }'
    )
    assert not acl.allow_agent_read() and not acl.allow_agent_write()
    acl = acl_of('operator { policy = "read" }')
    assert acl.allow_operator_read() and not acl.allow_operator_write()
    assert not acl.allow_quota_read() and not acl.allow_node_read()


def test_no_policy_allows_nothing_and_management_everything() -> None:
    empty = compile_acl([])
    assert not empty.allow_namespace_operation("default", caps.LIST_JOBS)
    assert not empty.allow_node_read() and not empty.is_management()
    assert MANAGEMENT.allow_namespace_operation("anything", caps.SUBMIT_JOB)
    assert MANAGEMENT.allow_operator_write() and MANAGEMENT.is_management()


def test_variables_merge_per_namespace_and_path() -> None:
    acl = acl_of(
        'namespace "a" { variables { path "x/*" { capabilities = ["read"] } } }',
        'namespace "a" { variables { path "x/*" { capabilities = ["write"] } } }',
        'namespace "a" { variables { path "y" { capabilities = ["write"] } } }',
        'namespace "a" { variables { path "y" { capabilities = ["deny"] } } }',
    )
    assert dict(((ns, p), c) for ns, p, c in acl.variables) == {
        ("a", "x/*"): {"read", "list", "write"},
        ("a", "y"): {"deny"},
    }
