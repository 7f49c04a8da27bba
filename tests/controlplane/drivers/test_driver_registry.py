"""Driver registry: which drivers a client loads and the node attributes they give."""

from __future__ import annotations

from controlplane.drivers.base import Fingerprint
from controlplane.drivers.registry import builtin_drivers, driver_attributes, driver_infos


def test_builtin_drivers() -> None:
    drivers = builtin_drivers()
    assert sorted(drivers) == ["docker", "exec", "java", "raw_exec"]
    assert all(d.name == name for name, d in drivers.items())


def test_only_detected_drivers_contribute_attributes() -> None:
    fps = {
        "raw_exec": Fingerprint(detected=True, healthy=True, attributes={"driver.raw_exec": "1"}),
        "docker": Fingerprint(
            detected=False, health_description="unreachable", attributes={"driver.docker": "1"}
        ),
    }
    assert driver_attributes(fps) == {"driver.raw_exec": "1"}
    infos = driver_infos(fps)
    assert infos["docker"].detected is False
    assert infos["docker"].health_description == "unreachable"
    assert infos["raw_exec"].healthy is True
