"""The drivers a client agent loads, and how their fingerprints become node
attributes. Never starts tasks."""

from __future__ import annotations

from controlplane.drivers.base import Driver, Fingerprint
from controlplane.drivers.docker import DockerDriver
from controlplane.drivers.exec import ExecDriver
from controlplane.drivers.java import JavaDriver
from controlplane.drivers.raw_exec import RawExecDriver
from controlplane.structs.node import DriverInfo


def builtin_drivers() -> dict[str, Driver]:
    """Fresh instances of the real drivers, by name (the mock is for tests only).
    Construction is cheap: it never contacts the Docker engine nor runs java."""
    drivers: list[Driver] = [RawExecDriver(), ExecDriver(), JavaDriver(), DockerDriver()]
    return {d.name: d for d in drivers}


def fingerprint_all(drivers: dict[str, Driver]) -> dict[str, Fingerprint]:
    """Each driver's fingerprint; a driver that raises counts as undetected."""
    fps: dict[str, Fingerprint] = {}
    for name, driver in drivers.items():
        try:
            fps[name] = driver.fingerprint()
        except Exception as e:  # a broken driver must not stop the node from registering
            fps[name] = Fingerprint(health_description=f"fingerprint failed: {e}")
    return fps


def driver_attributes(fps: dict[str, Fingerprint]) -> dict[str, str]:
    """Node attributes contributed by detected drivers (`driver.docker` = "1", ...)."""
    attrs: dict[str, str] = {}
    for fp in fps.values():
        if fp.detected:
            attrs.update(fp.attributes)
    return attrs


def driver_infos(
    fps: dict[str, Fingerprint], update_time: str | None = None
) -> dict[str, DriverInfo]:
    """`Node.Drivers`: one DriverInfo per driver, detected or not."""
    return {
        name: DriverInfo(
            attributes=dict(fp.attributes) or None,
            detected=fp.detected,
            healthy=fp.healthy,
            health_description=fp.health_description,
            update_time=update_time,
        )
        for name, fp in fps.items()
    }
