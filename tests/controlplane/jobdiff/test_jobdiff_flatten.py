"""Flattening of job blocks into Nomad's field names and Go-formatted values."""

from __future__ import annotations

import pytest

from controlplane.jobdiff.flatten import flatten_deep, flatten_mapping, flatten_struct, go_value
from controlplane.structs import NetworkResource, Port, Service


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (6379, "6379"),
        (6379.0, "6379"),
        (0.5, "0.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1.5e-05, "1.5e-05"),
        ("redis:3.2", "redis:3.2"),
    ],
)
def test_values_print_as_go_does(value: object, text: str) -> None:
    assert go_value(value) == text


def test_deep_flattening_of_driver_config() -> None:
    config = {
        "image": "redis:3.2",
        "port_map": [{"db": 6379}],
        "args": ["-v", "--fast"],
        "privileged": False,
        "labels": None,
    }

    assert flatten_deep(config) == {
        "image": "redis:3.2",
        "port_map[0][db]": "6379",
        "args[0]": "-v",
        "args[1]": "--fast",
        "privileged": "false",
        "labels": "nil",
    }


def test_struct_flattening_keeps_scalars_and_string_maps_only() -> None:
    svc = Service(name="web", tags=["a"], port_label="http", meta={"v": "2"})

    flat = flatten_struct(svc)

    assert flat["Name"] == "web"
    assert flat["PortLabel"] == "http"
    assert flat["Meta[v]"] == "2"
    # lists and nested blocks are objects of their own
    assert "Tags" not in flat and "Checks" not in flat and "CheckRestart" not in flat


def test_struct_flattening_skips_named_fields_and_nested_lists() -> None:
    net = NetworkResource(mode="bridge", ip="10.0.0.1", dynamic_ports=[Port(label="x")])

    flat = flatten_struct(net, frozenset({"IP"}))

    assert flat["Mode"] == "bridge"
    assert "IP" not in flat and "DynamicPorts" not in flat


def test_mapping_flattening_of_api_shaped_blocks() -> None:
    artifact = {
        "GetterSource": "https://example.com/app.tgz",
        "GetterOptions": {"checksum": "sha256:abc"},
        "GetterHeaders": None,
        "RelativeDest": "local/",
        "Nested": [{"x": 1}],
    }

    assert flatten_mapping(artifact) == {
        "GetterSource": "https://example.com/app.tgz",
        "GetterOptions[checksum]": "sha256:abc",
        "RelativeDest": "local/",
    }
