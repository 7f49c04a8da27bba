"""docker task config -> container options, key by key (pure; no engine)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.types import Ulimit

from controlplane.drivers.base import DriverError, TaskConfig
from controlplane.drivers.docker_config import config_flag, pull_auth, split_image
from controlplane.drivers.docker_options import (
    DockerOptions,
    container_options,
)
from controlplane.structs import AllocatedPortMapping

MakeConfig = Callable[..., TaskConfig]
MIB = 1024 * 1024
IMAGE = "img:1"


@pytest.fixture
def opts_for(task_config: MakeConfig) -> Callable[..., dict[str, Any]]:
    """`opts_for(key=value, ..., _fields={...}, _opts=DockerOptions())`: the
    options of a task whose config is `image` plus the given keys."""

    def build(
        _fields: dict[str, Any] | None = None, _opts: DockerOptions | None = None, **config: Any
    ) -> dict[str, Any]:
        return container_options(task_config({"image": IMAGE, **config}, **(_fields or {})), _opts)

    return build


def parse_error(fn: Callable[[], Any], match: str) -> DriverError:
    with pytest.raises(DriverError, match=match) as err:
        fn()
    assert err.value.recoverable is False, "config errors must fail the task, not restart it"
    return err.value


# -- keys -----------------------------------------------------------------------------


def test_unknown_key_is_rejected_naming_it(opts_for: Callable[..., dict[str, Any]]) -> None:
    err = parse_error(lambda: opts_for(colour="blue"), "colour")
    assert str(err) == (
        "failed to parse config: Unsupported argument: "
        'An argument named "colour" is not expected here.'
    )


def test_image_is_required_and_https_prefix_dropped(
    task_config: MakeConfig, opts_for: Callable[..., dict[str, Any]]
) -> None:
    parse_error(lambda: container_options(task_config({"command": "sh"})), 'argument "image"')
    assert opts_for(image="https://registry.local/app:2")["image"] == "registry.local/app:2"


def test_wrong_value_types_are_parse_errors(opts_for: Callable[..., dict[str, Any]]) -> None:
    parse_error(lambda: opts_for(args="-f"), 'attribute "args": list of string required')
    parse_error(lambda: opts_for(privileged="maybe"), 'attribute "privileged": bool required')
    parse_error(lambda: opts_for(shm_size="big"), 'attribute "shm_size": number required')
    parse_error(lambda: opts_for(labels=["x"]), 'attribute "labels": map required')


def test_command_args_and_entrypoint(opts_for: Callable[..., dict[str, Any]]) -> None:
    opts = opts_for(command="httpd", args=["-f", "-p", "80"], entrypoint=["/bin/sh", "-c"])
    assert opts["command"] == ["httpd", "-f", "-p", "80"]
    assert opts["entrypoint"] == ["/bin/sh", "-c"]
    assert opts_for(args=["--verbose"])["command"] == ["--verbose"]  # the image's entrypoint
    assert "command" not in opts_for() and "entrypoint" not in opts_for()
    parse_error(lambda: opts_for(command=" httpd"), "command contains extra white space")
    parse_error(lambda: opts_for(command="  "), "command empty")


def test_command_with_inner_space_is_one_program(opts_for: Callable[..., dict[str, Any]]) -> None:
    # Nomad never splits `command`; only surrounding whitespace is an error
    with pytest.raises(DriverError):
        opts_for(command="httpd ")
    assert opts_for(command="my prog")["command"] == ["my prog"]


def test_env_is_passed_with_task_dirs_seen_from_inside(
    task_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = task_config({"image": IMAGE}, env={"A": "1"})
    local, secrets = f"{cfg.task_dir}/local", f"{cfg.task_dir}/secrets"
    cfg = cfg.replace(
        alloc_dir=str(tmp_path / "shared"),
        env={
            "GREETING": "hi",
            "NOMAD_ALLOC_DIR": str(tmp_path / "shared"),
            "NOMAD_TASK_DIR": local,
            "NOMAD_SECRETS_DIR": secrets,
        },
    )
    assert container_options(cfg)["environment"] == {
        "GREETING": "hi",
        "NOMAD_ALLOC_DIR": "/alloc",
        "NOMAD_TASK_DIR": "/local",
        "NOMAD_SECRETS_DIR": "/secrets",
    }


def test_labels_are_the_users_plus_nomads(task_config: MakeConfig) -> None:
    cfg = task_config(
        {"image": IMAGE, "labels": [{"team": "infra", "com.hashicorp.nomad.alloc_id": "fake"}]},
        env={"NOMAD_JOB_NAME": "Example Job", "NOMAD_NAMESPACE": "prod"},
    )
    assert container_options(cfg)["labels"] == {
        "team": "infra",
        "com.hashicorp.nomad.alloc_id": cfg.alloc_id,  # Nomad's own labels win
        "com.hashicorp.nomad.job_id": "example",
        "com.hashicorp.nomad.job_name": "Example Job",
        "com.hashicorp.nomad.task_group_name": "web",
        "com.hashicorp.nomad.task_name": "web",
        "com.hashicorp.nomad.namespace": "prod",
    }
    assert container_options(cfg)["name"] == f"web-{cfg.alloc_id}"


# -- ports and network ---------------------------------------------------------------


def test_ports_publish_each_label_on_its_host_ip(opts_for: Callable[..., dict[str, Any]]) -> None:
    fields = {
        "ports": [
            AllocatedPortMapping(label="http", value=25000, to=80, host_ip="127.0.0.1"),
            AllocatedPortMapping(label="admin", value=25001, host_ip="127.0.0.1"),
            AllocatedPortMapping(label="unused", value=25002, to=9, host_ip="127.0.0.1"),
        ]
    }
    opts = opts_for(_fields=fields, ports=["http", "admin"])
    assert opts["ports"] == {
        "80/tcp": [("127.0.0.1", 25000)],
        "80/udp": [("127.0.0.1", 25000)],
        # no `to`: the container listens on the host port
        "25001/tcp": [("127.0.0.1", 25001)],
        "25001/udp": [("127.0.0.1", 25001)],
    }
    publish_elsewhere = DockerOptions(publish_ip="127.0.0.2")
    moved = opts_for(_fields=fields, _opts=publish_elsewhere, ports=["http"])["ports"]
    assert moved["80/tcp"] == [("127.0.0.2", 25000)]


def test_legacy_port_map_maps_label_to_container_port(
    opts_for: Callable[..., dict[str, Any]],
) -> None:
    fields = {"ports": [AllocatedPortMapping(label="http", value=25000, host_ip="127.0.0.1")]}
    opts = opts_for(_fields=fields, port_map=[{"http": 8080}])
    assert opts["ports"]["8080/tcp"] == [("127.0.0.1", 25000)]
    # a plain map (JSON job files) works too
    assert opts_for(_fields=fields, port_map={"http": "8080"})["ports"] == opts["ports"]


def test_unknown_port_label_is_a_driver_error(opts_for: Callable[..., dict[str, Any]]) -> None:
    parse_error(lambda: opts_for(ports=["db"]), 'Port "db" not found, check network block')
    parse_error(lambda: opts_for(port_map=[{"db": 5432}]), 'Port "db" not found')


def test_network_mode(opts_for: Callable[..., dict[str, Any]]) -> None:
    fields = {"ports": [AllocatedPortMapping(label="http", value=25000, to=80)]}
    host = opts_for(_fields=fields, network_mode="host", ports=["http"])
    assert host["network_mode"] == "host" and "ports" not in host  # nothing to publish
    bridge = opts_for(_fields=fields, network_mode="bridge", ports=["http"])
    assert bridge["network_mode"] == "bridge" and "80/tcp" in bridge["ports"]
    assert "network_mode" not in opts_for()  # the engine's default


# -- filesystem -----------------------------------------------------------------------


def test_task_dirs_are_mounted_and_relative_volumes_resolve_in_the_task_dir(
    task_config: MakeConfig,
) -> None:
    cfg = task_config({"image": IMAGE, "volumes": ["data:/data:ro", "/srv:/srv", "../up:/up"]})
    binds = container_options(cfg)["volumes"]
    alloc = str(Path(cfg.task_dir).parent)
    assert binds == [
        f"{cfg.task_dir}/local:/local",  # the fixture makes local/, not secrets/
        f"{cfg.task_dir}/data:/data:ro",
        "/srv:/srv",
        f"{alloc}/up:/up",
    ]


def test_volumes_disabled_allow_only_paths_inside_the_allocation(
    task_config: MakeConfig,
) -> None:
    closed = DockerOptions(volumes_enabled=False)
    inside = task_config({"image": IMAGE, "volumes": ["data:/data", "../web/x:/x"]})
    assert len(container_options(inside, closed)["volumes"]) == 3
    outside = task_config({"image": IMAGE, "volumes": ["/etc:/host-etc"]})
    parse_error(lambda: container_options(outside, closed), "volumes are not enabled")
    escape = task_config({"image": IMAGE, "volumes": ["../../elsewhere:/x"]})
    parse_error(lambda: container_options(escape, closed), "volumes are not enabled")


def test_malformed_volume(opts_for: Callable[..., dict[str, Any]]) -> None:
    parse_error(lambda: opts_for(volumes=["just-a-path"]), 'invalid docker volume "just-a-path"')


def test_volume_driver_sources_are_names(opts_for: Callable[..., dict[str, Any]]) -> None:
    opts = opts_for(volume_driver="local", volumes=["cache:/cache"])
    assert opts["volume_driver"] == "local"
    assert "cache:/cache" in opts["volumes"]
    closed = DockerOptions(volumes_enabled=False)
    parse_error(lambda: opts_for(_opts=closed, volume_driver="local"), "cannot use volume driver")


def test_mount_blocks(task_config: MakeConfig) -> None:
    cfg = task_config(
        {
            "image": IMAGE,
            "mount": [
                {
                    "type": "bind",
                    "source": "local/conf",
                    "target": "/etc/app",
                    "readonly": True,
                    "bind_options": [{"propagation": "rslave"}],
                },
                {"type": "tmpfs", "target": "/scratch", "tmpfs_options": [{"size": 1048576}]},
            ],
            # the pre-1.0 list syntax; type defaults to volume
            "mounts": [
                {
                    "target": "/cache",
                    "source": "cache",
                    "volume_options": [
                        {
                            "no_copy": True,
                            "labels": [{"owner": "web"}],
                            "driver_config": [{"name": "local", "options": [{"o": "bind"}]}],
                        }
                    ],
                }
            ],
        }
    )
    bind, tmpfs, volume = container_options(cfg)["mounts"]
    assert bind == {
        "Target": "/etc/app",
        "Source": f"{cfg.task_dir}/local/conf",
        "Type": "bind",
        "ReadOnly": True,
        "BindOptions": {"Propagation": "rslave"},
    }
    assert tmpfs["Type"] == "tmpfs" and tmpfs["Target"] == "/scratch"
    assert tmpfs["TmpfsOptions"] == {"SizeBytes": 1048576}
    assert volume["Type"] == "volume" and volume["Source"] == "cache"
    assert volume["VolumeOptions"] == {
        "NoCopy": True,
        "Labels": {"owner": "web"},
        "DriverConfig": {"Name": "local", "Options": {"o": "bind"}},
    }


def test_mount_errors(opts_for: Callable[..., dict[str, Any]]) -> None:
    parse_error(
        lambda: opts_for(mount=[{"type": "tmpfs", "source": "x", "target": "/t"}]),
        'invalid source, must be "" for tmpfs',
    )
    parse_error(
        lambda: opts_for(mount=[{"type": "nfs", "target": "/t"}]), 'invalid mount type.*"nfs"'
    )
    closed = DockerOptions(volumes_enabled=False)
    parse_error(
        lambda: opts_for(_opts=closed, mount=[{"type": "volume", "source": "v", "target": "/v"}]),
        "cannot mount volume",
    )
    parse_error(
        lambda: opts_for(_opts=closed, mount=[{"type": "bind", "source": "/etc", "target": "/e"}]),
        "cannot mount host path",
    )


def test_devices(opts_for: Callable[..., dict[str, Any]]) -> None:
    opts = opts_for(
        devices=[
            {"host_path": "/dev/fuse"},
            {"host_path": "/dev/sda", "container_path": "/dev/xvda", "cgroup_permissions": "r"},
        ]
    )
    assert opts["devices"] == ["/dev/fuse:/dev/fuse:rwm", "/dev/sda:/dev/xvda:r"]
    parse_error(lambda: opts_for(devices=[{"container_path": "/x"}]), "host path must be set")
    parse_error(
        lambda: opts_for(devices=[{"host_path": "/d", "cgroup_permissions": "rx"}]), "permission"
    )


# -- resources --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "config", "limit", "reservation"),
    [
        ({"memory_mb": 128}, {}, 128, None),  # memory alone is the hard limit
        ({"memory_mb": 128, "memory_max_mb": 256}, {}, 256, 128),  # memory_max: oversubscription
        ({"memory_mb": 128}, {"memory_hard_limit": 512}, 512, 128),
        ({"memory_mb": 128, "memory_max_mb": 600}, {"memory_hard_limit": 512}, 600, 128),
        ({}, {}, None, None),
    ],
)
def test_memory_limits(
    opts_for: Callable[..., dict[str, Any]],
    fields: dict[str, int],
    config: dict[str, Any],
    limit: int | None,
    reservation: int | None,
) -> None:
    opts = opts_for(_fields=fields, **config)
    assert opts.get("mem_limit") == (limit * MIB if limit else None)
    assert opts.get("mem_reservation") == (reservation * MIB if reservation else None)
    # no swap on top of the limit, as Nomad
    assert opts.get("memswap_limit") == opts.get("mem_limit")


def test_cpu_shares_are_the_tasks_mhz(opts_for: Callable[..., dict[str, Any]]) -> None:
    assert opts_for(_fields={"cpu_mhz": 500})["cpu_shares"] == 500
    assert opts_for(_fields={"cpu_mhz": 1})["cpu_shares"] == 2  # the engine's minimum
    assert "cpu_shares" not in opts_for()


def test_user_and_stop_signal(opts_for: Callable[..., dict[str, Any]]) -> None:
    opts = opts_for(_fields={"user": "nobody", "kill_signal": "SIGINT"})
    assert opts["user"] == "nobody" and opts["stop_signal"] == "SIGINT"
    assert opts_for()["stop_signal"] == "SIGTERM"


# -- image pulls ----------------------------------------------------------------------


def test_force_pull_flag() -> None:
    assert config_flag({"force_pull": True}, "force_pull") is True
    assert config_flag({"force_pull": "false"}, "force_pull") is False  # interpolated
    assert config_flag({}, "force_pull") is False


def test_auth_block_becomes_registry_auth(opts_for: Callable[..., dict[str, Any]]) -> None:
    conf = {
        "image": IMAGE,
        "auth": [
            {
                "username": "deploy",
                "password": "s3cret",
                "email": "ops@example.com",
                "server_address": "registry.local:5000",
            }
        ],
    }
    assert pull_auth(conf) == {
        "username": "deploy",
        "password": "s3cret",
        "email": "ops@example.com",
        "serveraddress": "registry.local:5000",
    }
    assert pull_auth({"image": IMAGE}) is None
    assert pull_auth({"image": IMAGE, "auth": [{}]}) is None
    # accepted by option building (auth only matters to the pull)
    assert "auth" not in opts_for(auth=conf["auth"], auth_soft_fail=True)


@pytest.mark.parametrize(
    ("image", "repo", "tag"),
    [
        ("busybox", "busybox", "latest"),
        ("busybox:1.36", "busybox", "1.36"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app", "latest"),
        ("127.0.0.1:5000/team/app:2", "127.0.0.1:5000/team/app", "2"),
        ("app@sha256:abc", "app", "sha256:abc"),
    ],
)
def test_split_image(image: str, repo: str, tag: str) -> None:
    assert split_image(image) == (repo, tag)


# -- the rest of Nomad's keys ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "kwarg", "expected"),
    [
        ("work_dir", "/srv", "working_dir", "/srv"),
        ("hostname", "web-1", "hostname", "web-1"),
        ("dns_servers", ["1.1.1.1"], "dns", ["1.1.1.1"]),
        ("dns_search_domains", ["corp"], "dns_search", ["corp"]),
        ("dns_options", ["ndots:1"], "dns_opt", ["ndots:1"]),
        ("extra_hosts", ["db:10.0.0.5"], "extra_hosts", ["db:10.0.0.5"]),
        ("group_add", ["audio"], "group_add", ["audio"]),
        ("init", True, "init", True),
        ("interactive", "true", "stdin_open", True),
        ("tty", True, "tty", True),
        ("ipc_mode", "host", "ipc_mode", "host"),
        ("pid_mode", "host", "pid_mode", "host"),
        ("uts_mode", "host", "uts_mode", "host"),
        ("userns_mode", "host", "userns_mode", "host"),
        ("readonly_rootfs", True, "read_only", True),
        ("security_opt", ["no-new-privileges"], "security_opt", ["no-new-privileges"]),
        ("shm_size", "67108864", "shm_size", 67108864),
        ("pids_limit", 64, "pids_limit", 64),
        ("cpuset_cpus", "0-1", "cpuset_cpus", "0-1"),
        ("runtime", "runc", "runtime", "runc"),
        ("mac_address", "02:42:ac:11:00:02", "mac_address", "02:42:ac:11:00:02"),
        ("storage_opt", [{"size": "1G"}], "storage_opt", {"size": "1G"}),
        ("sysctl", [{"net.core.somaxconn": "16384"}], "sysctls", {"net.core.somaxconn": "16384"}),
    ],
)
def test_pass_through_keys(
    opts_for: Callable[..., dict[str, Any]], key: str, value: Any, kwarg: str, expected: Any
) -> None:
    assert opts_for(**{key: value})[kwarg] == expected


def test_privileged_needs_the_agents_permission(opts_for: Callable[..., dict[str, Any]]) -> None:
    parse_error(lambda: opts_for(privileged=True), "privileged mode is disabled")
    allowed = DockerOptions(allow_privileged=True)
    assert opts_for(_opts=allowed, privileged=True)["privileged"] is True
    assert "privileged" not in opts_for(privileged=False)


def test_capabilities_are_checked_against_allow_caps(
    opts_for: Callable[..., dict[str, Any]],
) -> None:
    opts = opts_for(cap_add=["net_bind_service"], cap_drop=["CAP_CHOWN", "all"])
    assert opts["cap_add"] == ["NET_BIND_SERVICE"] and opts["cap_drop"] == ["CHOWN", "ALL"]
    parse_error(
        lambda: opts_for(cap_add=["SYS_ADMIN", "NET_ADMIN"]),
        "driver does not allow the following capabilities: net_admin, sys_admin",
    )
    wide = DockerOptions(allow_caps=frozenset({"ALL"}))
    assert opts_for(_opts=wide, cap_add=["SYS_ADMIN"])["cap_add"] == ["SYS_ADMIN"]


def test_ulimit(opts_for: Callable[..., dict[str, Any]]) -> None:
    opts = opts_for(ulimit=[{"nofile": "2048:4096", "nproc": "64"}])
    assert opts["ulimits"] == [
        Ulimit(name="nofile", soft=2048, hard=4096),
        Ulimit(name="nproc", soft=64, hard=64),
    ]
    parse_error(lambda: opts_for(ulimit=[{"nofile": "lots"}]), "Malformed ulimit")


def test_healthchecks_and_logging(opts_for: Callable[..., dict[str, Any]]) -> None:
    assert opts_for(healthchecks=[{"disable": True}])["healthcheck"] == {"test": ["NONE"]}
    assert "healthcheck" not in opts_for(healthchecks=[{"disable": False}])
    default = opts_for()["log_config"]
    assert default["Type"] == "json-file"
    assert default["Config"] == {"max-file": "2", "max-size": "2m"}
    custom = opts_for(logging=[{"type": "local", "config": [{"max-size": "5m"}]}])["log_config"]
    assert custom["Type"] == "local" and custom["Config"] == {"max-size": "5m"}


def test_isolation_is_windows_only(opts_for: Callable[..., dict[str, Any]]) -> None:
    parse_error(lambda: opts_for(isolation="hyperv"), 'cannot use isolation mode "hyperv"')


def test_unsupported_keys_are_accepted_and_logged(
    opts_for: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        opts = opts_for(network_aliases=["web"], ipv4_address="10.0.0.9", cpu_hard_limit=True)
    assert opts["image"] == IMAGE
    logged = " ".join(r.getMessage() for r in caplog.records)
    for key in ("network_aliases", "ipv4_address", "cpu_hard_limit"):
        assert key in logged
