"""Token resolution: disabled, anonymous, unknown, expired, management, cache."""

from __future__ import annotations

import time

import pytest

from controlplane.acl import EMPTY, MANAGEMENT, ACLResolver
from controlplane.acl import capabilities as caps
from controlplane.errors import PermissionDenied
from controlplane.structs import ACLPolicy, ACLToken


class FakeState:
    def __init__(self) -> None:
        self.policies: dict[str, ACLPolicy] = {}
        self.tokens: dict[str, ACLToken] = {}

    def acl_policy(self, name: str) -> ACLPolicy | None:
        return self.policies.get(name)

    def acl_token_by_secret(self, secret_id: str) -> ACLToken | None:
        return self.tokens.get(secret_id)

    def add_policy(self, name: str, rules: str, index: int) -> None:
        self.policies[name] = ACLPolicy(name=name, rules=rules, modify_index=index)

    def add_token(self, secret: str, **kw: object) -> None:
        self.tokens[secret] = ACLToken(accessor_id="a-" + secret, secret_id=secret, **kw)  # type: ignore[arg-type]


NOW = 1_000_000_000_000


@pytest.fixture
def state() -> FakeState:
    s = FakeState()
    s.add_policy("ro", 'namespace "default" { policy = "read" }', 10)
    s.add_token("client", type="client", policies=["ro", "missing"])
    s.add_token("mgmt", type="management")
    s.add_token("old", type="management", expires_at=NOW - 1)
    s.add_token("fresh", type="client", policies=["ro"], expires_at=NOW + 10**9)
    return s


def resolver(state: FakeState, enabled: bool = True) -> ACLResolver:
    return ACLResolver(state, enabled=enabled, clock_ns=lambda: NOW)


def test_disabled_acls_allow_everything_whatever_the_token(state: FakeState) -> None:
    r = resolver(state, enabled=False)
    assert r.resolve("") is MANAGEMENT and r.resolve("nonsense") is MANAGEMENT


def test_anonymous_without_an_anonymous_policy_gets_nothing(state: FakeState) -> None:
    assert resolver(state).resolve("") is EMPTY


def test_anonymous_policy_governs_tokenless_requests(state: FakeState) -> None:
    state.add_policy("anonymous", 'namespace "default" { policy = "read" }', 11)
    acl = resolver(state).resolve("")
    assert acl.allow_namespace_operation("default", caps.LIST_JOBS)
    assert not acl.allow_namespace_operation("default", caps.SUBMIT_JOB)


def test_unknown_and_expired_tokens_are_refused_with_nomads_messages(state: FakeState) -> None:
    with pytest.raises(PermissionDenied, match=r"^ACL token not found$"):
        resolver(state).resolve("nope")
    with pytest.raises(PermissionDenied, match=r"^ACL token expired$"):
        resolver(state).resolve("old")
    assert resolver(state).resolve("fresh").allow_namespace_operation("default", caps.READ_JOB)


def test_management_and_client_tokens(state: FakeState) -> None:
    r = resolver(state)
    assert r.resolve("mgmt") is MANAGEMENT
    acl, token = r.resolve_token("client")
    assert token is not None and token.accessor_id == "a-client"
    # the missing policy is skipped, as Nomad does
    assert acl.policies == ("ro",)
    assert acl.allow_namespace_operation("default", caps.READ_JOB)
    assert not acl.allow_namespace_operation("default", caps.SUBMIT_JOB)


def test_compiled_acls_are_cached_until_a_policy_changes(state: FakeState) -> None:
    r = resolver(state)
    first = r.resolve("client")
    assert r.resolve("client") is first
    state.add_policy("ro", 'namespace "default" { policy = "write" }', 12)
    changed = r.resolve("client")
    assert changed is not first
    assert changed.allow_namespace_operation("default", caps.SUBMIT_JOB)


def test_resolving_a_client_token_is_cheap(state: FakeState) -> None:
    r = resolver(state)
    r.resolve("client")
    n = 20000
    start = time.perf_counter()
    for _ in range(n):
        r.resolve("client")
    per_call_us = (time.perf_counter() - start) / n * 1e6
    # generous bound for slow CI machines; measured ~1-2 µs
    assert per_call_us < 50, per_call_us
