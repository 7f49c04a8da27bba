"""Which region a job write's body names (Nomad's regionForJob precedence)."""

from __future__ import annotations

import json

import pytest

from controlplane.api.region_forward import body_region


@pytest.mark.parametrize(
    ("body", "region"),
    [
        ({"Job": {"ID": "x", "Region": "b"}}, "b"),
        ({"job": {"region": "b"}}, "b"),  # Go decodes keys case-insensitively
        ({"Region": "c", "Job": {"Region": "b"}}, "c"),  # the body's Region first
        ({"Job": {"Region": "global"}}, ""),  # global means this agent's region
        ({"Job": {"ID": "x"}}, ""),
        ({"Job": {"Region": 7}}, ""),
        ({"Payload": "aGk=", "Meta": {}}, ""),
        ([1, 2], ""),
    ],
)
def test_body_region(body: object, region: str) -> None:
    assert body_region(json.dumps(body).encode()) == region


def test_body_that_is_no_json_names_no_region() -> None:
    assert body_region(b"job { x }") == ""
    assert body_region(b"") == ""


def test_body_nested_past_the_decoders_stack_names_no_region() -> None:
    # the handler refuses it with a 400; here it must not raise (that was a 500)
    deep = b"[" * 200_000 + b"]" * 200_000
    assert body_region(deep) == ""
