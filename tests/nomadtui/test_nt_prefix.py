"""Short-ID and prefix resolution, including ambiguity."""

from __future__ import annotations

import pytest
from nt_fake import FakeNomad

from controlplane.errors import NotFound, ValidationError
from nomadtui.client import AmbiguousPrefix, NomadClient, resolve_alloc, resolve_job
from nomadtui.client.prefix import sanitize_uuid_prefix


def test_sanitize_trims_odd_length_hex_ignoring_hyphens() -> None:
    assert sanitize_uuid_prefix("abc") == "ab"
    assert sanitize_uuid_prefix("abcd") == "abcd"
    assert sanitize_uuid_prefix("0f09c03d-1") == "0f09c03d-"
    assert sanitize_uuid_prefix("0f09c03d-12") == "0f09c03d-12"


def _client(fake: FakeNomad) -> NomadClient:
    return NomadClient(env={}, transport=fake.transport)


def test_alloc_prefix_is_sent_even_and_filtered_by_what_was_typed() -> None:
    fake = FakeNomad()
    fake.route(
        "GET",
        "/v1/allocations",
        [
            {"ID": "abc12345-0000-0000-0000-000000000000"},
            {"ID": "abd99999-0000-0000-0000-000000000000"},
        ],
    )
    found = resolve_alloc(_client(fake), "abc")
    assert found["ID"].startswith("abc1")
    assert fake.calls[0].url.params["prefix"] == "ab"


def test_ambiguous_alloc_prefix_lists_the_matches() -> None:
    fake = FakeNomad()
    fake.route(
        "GET",
        "/v1/allocations",
        [
            {"ID": "ab120000-0000-0000-0000-000000000000"},
            {"ID": "ab340000-0000-0000-0000-000000000000"},
        ],
    )
    with pytest.raises(AmbiguousPrefix) as err:
        resolve_alloc(_client(fake), "ab")
    assert str(err.value) == 'Prefix "ab" matched multiple allocations: ab120000, ab340000'
    assert err.value.matches == ["ab120000", "ab340000"]


def test_one_character_prefix_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least two characters"):
        resolve_alloc(_client(FakeNomad()), "a")


def test_job_exact_id_wins_over_longer_matches() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [{"ID": "web"}, {"ID": "web-canary"}])
    assert resolve_job(_client(fake), "web")["ID"] == "web"
    with pytest.raises(AmbiguousPrefix, match='Prefix "we" matched multiple jobs: web, web-canary'):
        resolve_job(_client(fake), "we")


def test_unknown_job_prefix_is_not_found() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/jobs", [])
    with pytest.raises(NotFound, match='No job\\(s\\) with prefix or id "zz" found'):
        resolve_job(_client(fake), "zz")
