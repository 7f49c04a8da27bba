"""Per-task cgroups: limits written on this machine's real hierarchy (v1 or
v2), joining, removal with leftovers killed; v2 layout and detection also
against a fake cgroupfs, since a machine has only one kind."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.drivers import cgroups
from controlplane.drivers.cgroups import MIB, TaskCgroup, cpu_weight, own_cgroups
from tests.executor_support import require_isolation
from tests.waiting import wait_for


@pytest.fixture
def name() -> Iterator[str]:
    require_isolation()
    value = f"test-{uuid.uuid4()}.web"
    yield value
    TaskCgroup.create(value).remove()  # whatever a failed test left


def _read(path: str) -> str:
    return Path(path).read_text().strip()


def test_limits_join_and_remove_on_this_machine(name: str) -> None:
    group = TaskCgroup.create(name, memory_mb=64, memory_max_mb=128, cpu_shares=300)
    assert group.exists()
    if group.version == 1:
        memory = group.dirs["memory"]
        assert _read(f"{memory}/memory.limit_in_bytes") == str(128 * MIB)
        assert _read(f"{memory}/memory.soft_limit_in_bytes") == str(64 * MIB)
        assert _read(f"{group.dirs['cpu']}/cpu.shares") == "300"
    else:
        unified = group.dirs["unified"]
        assert _read(f"{unified}/memory.max") == str(128 * MIB)
        assert _read(f"{unified}/cpu.weight") == str(cpu_weight(300))

    proc = subprocess.Popen(["sleep", "300"], preexec_fn=group.join)
    try:
        wait_for(lambda: proc.pid in group.pids(), timeout=5, what="the process in the cgroup")
        assert group.usage()["memory_bytes"] > 0
        assert group.oom_kills() == 0
        group.remove()
        assert proc.wait(5) == -9, "remove() kills what is left inside"
    finally:
        proc.kill()
        proc.wait()
    assert not group.exists()
    assert not any(os.path.exists(p) for p in group.dirs.values())
    group.remove()  # idempotent


def test_create_resets_a_stale_cgroup(name: str) -> None:
    stale = TaskCgroup.create(name, memory_mb=64)
    proc = subprocess.Popen(["sleep", "300"], preexec_fn=stale.join)
    try:
        wait_for(lambda: proc.pid in stale.pids(), timeout=5, what="the stale process")
        fresh = TaskCgroup.create(name, memory_mb=32)
        assert proc.wait(5) == -9
        assert fresh.pids() == []
    finally:
        proc.kill()
        proc.wait()


def test_state_round_trips_as_plain_data(name: str) -> None:
    group = TaskCgroup.create(name)
    state = group.to_state()
    assert TaskCgroup.from_state(state) == group
    assert all(isinstance(v, str) for v in state["dirs"].values())


def test_v1_nests_under_the_callers_own_cgroup(tmp_path: Path) -> None:
    root = tmp_path / "fs"
    for controller in ("memory", "cpu", "cpuacct"):
        (root / controller).mkdir(parents=True)
        (root / controller / "cgroup.procs").write_text("")
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("4:memory:/agent.slice\n2:cpu,cpuacct:/\n0::/\n")
    group = TaskCgroup.create(
        "a1.web", memory_mb=32, cpu_shares=100, root=str(root), self_cgroup=str(self_cgroup)
    )
    assert group.version == 1
    assert group.dirs["memory"] == str(root / "memory/agent.slice/nomad/a1.web")
    assert group.dirs["cpu"] == str(root / "cpu/nomad/a1.web")
    assert _read(f"{group.dirs['memory']}/memory.limit_in_bytes") == str(32 * MIB)
    assert _read(f"{group.dirs['cpu']}/cpu.shares") == "100"


def test_v2_layout_limits_and_oom_count_on_a_fake_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    group = TaskCgroup.create(
        "a1.web", memory_mb=64, memory_max_mb=256, cpu_shares=500, root=str(tmp_path)
    )
    scope = tmp_path / "nomad.slice" / "a1.web.scope"
    assert group == TaskCgroup(2, {"unified": str(scope)})
    assert _read(str(tmp_path / "cgroup.subtree_control")) == "+memory +cpu"
    assert _read(str(tmp_path / "nomad.slice" / "cgroup.subtree_control")) == "+memory +cpu"
    assert _read(str(scope / "memory.max")) == str(256 * MIB)
    assert _read(str(scope / "memory.low")) == str(64 * MIB)
    assert _read(str(scope / "cpu.weight")) == str(cpu_weight(500))
    (scope / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1


def test_detection(tmp_path: Path) -> None:
    assert cgroups.version(str(tmp_path)) == 0
    assert "no cgroup" in cgroups.unusable_reason(str(tmp_path))
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    assert cgroups.version(str(tmp_path)) == 2
    assert cgroups.unusable_reason(str(tmp_path)) == "cgroup v2 controllers not available: memory"


def test_cpu_weight_matches_runc() -> None:
    assert [cpu_weight(s) for s in (2, 1024, 262144, 10**9)] == [1, 39, 10000, 10000]


def test_own_cgroups_parses_proc_self_cgroup(tmp_path: Path) -> None:
    path = tmp_path / "cgroup"
    path.write_text("4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/d\n")
    assert own_cgroups(str(path)) == {"memory": "/a/b", "cpu": "/c", "cpuacct": "/c", "": "/d"}
