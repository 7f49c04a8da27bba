"""Policy rule parsing: HCL and JSON forms, expansion, Nomad's error messages."""

from __future__ import annotations

import pytest

from controlplane.acl import capabilities as caps
from controlplane.acl.policy import parse
from controlplane.errors import ValidationError

HCL = """
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job"]
}
namespace "prod-*" {
  policy = "write"
  variables {
    path "app/*" { capabilities = ["read"] }
  }
}
node     { policy = "read" }
agent    { policy = "write" }
operator { policy = "read" }
quota    { policy = "deny" }
plugin   { policy = "list" }
host_volume "shared" { policy = "write" }
"""


def test_hcl_policy_is_parsed_and_expanded() -> None:
    p = parse(HCL)
    default, prod = p.namespaces
    assert default.name == "default"
    assert default.capabilities == caps.POLICY_READ | {caps.SUBMIT_JOB}
    assert prod.name == "prod-*" and prod.capabilities == caps.POLICY_WRITE
    (var,) = prod.variables
    assert var.path == "app/*" and var.capabilities == {"read", "list"}  # read implies list
    assert (p.node, p.agent, p.operator, p.quota, p.plugin) == (
        "read",
        "write",
        "read",
        "deny",
        "list",
    )
    assert p.operator_capabilities == {"license-read"}
    assert p.host_volumes[0].capabilities == {"mount-readonly", "mount-readwrite"}


def test_json_form_matches_hcl() -> None:
    rules = """{
      "namespace": {"default": {"policy": "read", "capabilities": ["submit-job"]}},
      "node": {"policy": "read"}
    }"""
    p = parse(rules)
    assert p.namespaces[0].name == "default"
    assert p.namespaces[0].capabilities == caps.POLICY_READ | {caps.SUBMIT_JOB}
    assert p.node == "read"
    # the list-of-objects JSON shape HCL v1 also accepts
    listed = parse('{"namespace": [{"a": {"policy": "deny"}}], "agent": [{"policy": "read"}]}')
    assert listed.namespaces[0].capabilities == {"deny"} and listed.agent == "read"


def test_scale_policy_expands_as_nomad() -> None:
    (ns,) = parse('namespace "x" { policy = "scale" }').namespaces
    assert ns.capabilities == {
        "list-scaling-policies",
        "read-scaling-policy",
        "read-job-scaling",
        "scale-job",
        "read-job",
        "submit-recommendation",
    }


def test_empty_rules_grant_nothing() -> None:
    assert parse("") == parse("").__class__()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('namespace "default" { policy = "reed" }', "Invalid namespace policy: 'reed'"),
        (
            'namespace "default" { capabilities = ["fly"] }',
            "Invalid namespace capability 'fly'",
        ),
        ('namespace "bad name" { policy = "read" }', "Invalid namespace name"),
        ('namespace { policy = "read" }', "Invalid namespace name: ''"),
        ('node { policy = "admin" }', "Invalid node policy: 'admin'"),
        ("node { }", "Invalid node policy: ''"),
        ('agent { policy = "scale-ish" }', "Invalid agent policy"),
        ('plugin { policy = "scale" }', "Invalid plugin policy"),
        ('operator { capabilities = ["reboot"] }', "Invalid operator capability 'reboot'"),
        ('nodes { policy = "read" }', "Invalid or duplicate policy keys: nodes"),
        ('namespace "a" { polcy = "read" }', "Invalid or duplicate policy keys: polcy"),
        ('node { policy = "read" }\nnode { policy = "write" }', "duplicate policy keys: node"),
        ('namespace "a" { variables { } }', "no variable paths in namespace a"),
        (
            'namespace "a" { variables { path "/x" { capabilities = ["read"] } } }',
            "cannot start with a leading '/'",
        ),
        (
            'namespace "a" { variables { path "x" { capabilities = ["sudo"] } } }',
            "Invalid variable capability 'sudo' in namespace a",
        ),
        ('namespace "a" { policy = ["read"] }', "must be a string"),
        ('namespace "a" { policy = "read"', "Failed to parse ACL Policy"),
        ('{"namespace": ', "Failed to parse ACL Policy"),
        ("# only a comment\n", "Invalid policy"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(rules: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse(rules)
    assert message in str(err.value)


def test_lenient_parse_ignores_unknown_keys() -> None:
    p = parse('namespace "a" { policy = "read"\n future = "x" }\nfuture { }', strict=False)
    assert p.namespaces[0].capabilities == caps.POLICY_READ
