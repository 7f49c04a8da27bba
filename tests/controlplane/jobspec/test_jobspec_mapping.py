"""HCL -> API-shape mapping (API.md §6.6): labels, renames, ports, config, shorthands, variables."""

from __future__ import annotations

import pytest

from controlplane.errors import JobSpecError
from controlplane.jobspec import parse_job, parse_job_api
from controlplane.structs import Port

SEC = 1_000_000_000

SEED_EXAMPLE = """
job "example" {
  datacenters = ["dc1"]

  group "cache" {
    count = 1

    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }

    ephemeral_disk {
      size = 300
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:3.2"

        port_map {
          db = 6379
        }
      }
      resources {
        cpu    = 500
        memory = 256

        network {
          mbits = 10
          port  "db"  {}
        }
      }
      service {
        name = "redis-cache"
        tags = ["global", "cache"]
        port = "db"

        check {
          name     = "alive"
          type     = "tcp"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
"""


def test_seed_example_maps_to_api_shape() -> None:
    api = parse_job_api(SEED_EXAMPLE, "example.nomad")
    assert api["ID"] == "example"
    assert api["Name"] == "example"
    assert api["Datacenters"] == ["dc1"]
    (group,) = api["TaskGroups"]
    assert group["Name"] == "cache"
    assert group["Count"] == 1
    assert group["RestartPolicy"] == {
        "Attempts": 2,
        "Interval": 30 * 60 * SEC,
        "Delay": 15 * SEC,
        "Mode": "fail",
    }
    assert group["EphemeralDisk"] == {"SizeMB": 300}
    (task,) = group["Tasks"]
    assert task["Name"] == "redis"
    assert task["Driver"] == "docker"
    assert task["Config"] == {"image": "redis:3.2", "port_map": [{"db": 6379}]}
    assert task["Resources"]["CPU"] == 500
    assert task["Resources"]["MemoryMB"] == 256
    (net,) = task["Resources"]["Networks"]
    assert net["MBits"] == 10
    assert net["DynamicPorts"] == [{"Label": "db", "To": 0, "Value": 0}]
    assert "ReservedPorts" not in net
    (svc,) = task["Services"]
    assert svc["Name"] == "redis-cache"
    assert svc["Tags"] == ["global", "cache"]
    assert svc["PortLabel"] == "db"
    assert svc["Checks"] == [
        {"Name": "alive", "Type": "tcp", "Interval": 10 * SEC, "Timeout": 2 * SEC}
    ]


def test_seed_example_parses_into_job_struct() -> None:
    job = parse_job(SEED_EXAMPLE, "example.nomad")
    task = job.task_groups[0].tasks[0]
    assert task.resources is not None and task.resources.networks is not None
    assert task.resources.networks[0].dynamic_ports == [Port(label="db")]
    assert task.services is not None and task.services[0].port_label == "db"
    assert task.services[0].checks is not None
    assert task.services[0].checks[0].interval == 10 * SEC


MODERN = """
job "web" {
  group "frontend" {
    network {
      mode = "bridge"
      port "db" { to = 6379 }
      port "http" { static = 8080 }
      port "admin" {
        static = 9000
        to = 90
        host_network = "private"
      }
    }
    service {
      name = "web"
      port = "http"
    }
    task "app" {
      driver = "docker"
      config {
        image = "nginx"
        ports = ["db", "http"]
        labels = { team = "a", "com.x" = "y" }
        logging {
          type = "syslog"
          config { tag = "web" }
        }
      }
    }
  }
}
"""


def test_modern_group_network_splits_static_and_dynamic_ports() -> None:
    api = parse_job_api(MODERN)
    (net,) = api["TaskGroups"][0]["Networks"]
    assert net["Mode"] == "bridge"
    assert net["DynamicPorts"] == [{"Label": "db", "To": 6379, "Value": 0}]
    assert net["ReservedPorts"] == [
        {"Label": "http", "Value": 8080, "To": 0},
        {"Label": "admin", "Value": 9000, "To": 90, "HostNetwork": "private"},
    ]
    job = parse_job(MODERN)
    networks = job.task_groups[0].networks
    assert networks is not None
    assert networks[0].dynamic_ports == [Port(label="db", to=6379)]
    assert networks[0].reserved_ports is not None
    assert networks[0].reserved_ports[0] == Port(label="http", value=8080)


def test_driver_config_blocks_become_lists_and_attribute_maps_stay_maps() -> None:
    config = parse_job_api(MODERN)["TaskGroups"][0]["Tasks"][0]["Config"]
    assert config["ports"] == ["db", "http"]
    assert config["labels"] == {"team": "a", "com.x": "y"}
    assert config["logging"] == [{"type": "syslog", "config": [{"tag": "web"}]}]


def test_constraints_renames_and_shorthands() -> None:
    api = parse_job_api(
        """
job "c" {
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  constraint {
    attribute = "${attr.os.version}"
    operator  = ">="
    value     = 20
  }
  constraint { distinct_hosts = true }
  constraint {
    attribute = "${attr.cpu.arch}"
    regexp    = "^(amd|arm)64$"
  }
  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.2, < 2.0"
  }
  constraint { distinct_property = "${meta.rack}" }
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = -50
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}
"""
    )
    assert api["Constraints"] == [
        {"LTarget": "${attr.kernel.name}", "RTarget": "linux"},
        {"LTarget": "${attr.os.version}", "Operand": ">=", "RTarget": "20"},
        {"Operand": "distinct_hosts", "RTarget": "true"},
        {"LTarget": "${attr.cpu.arch}", "Operand": "regexp", "RTarget": "^(amd|arm)64$"},
        {"LTarget": "${attr.nomad.version}", "Operand": "version", "RTarget": ">= 1.2, < 2.0"},
        {"Operand": "distinct_property", "LTarget": "${meta.rack}"},
    ]
    assert api["Affinities"] == [{"LTarget": "${node.datacenter}", "RTarget": "dc1", "Weight": -50}]


def test_constraint_default_operand_is_equals_in_struct() -> None:
    job = parse_job(
        'job "c" {\n constraint {\n attribute = "${attr.kernel.name}"\n value = "linux"\n }\n'
        ' group "g" {\n task "t" { driver = "exec" }\n }\n}\n'
    )
    assert job.constraints is not None
    assert job.constraints[0].operand == "="
    assert job.constraints[0].l_target == "${attr.kernel.name}"


def test_bare_task_under_job_is_wrapped_in_group_of_same_name() -> None:
    job = parse_job('job "solo" {\n  task "worker" {\n    driver = "raw_exec"\n  }\n}\n')
    assert [g.name for g in job.task_groups] == ["worker"]
    assert [t.name for t in job.task_groups[0].tasks] == ["worker"]


def test_meta_env_stringified_and_runtime_interpolations_kept_literal() -> None:
    api = parse_job_api(
        """
job "m" {
  meta {
    version = 6
    enabled = true
  }
  group "g" {
    task "t" {
      driver = "exec"
      env {
        ALLOC = "${NOMAD_ALLOC_ID}"
        KERNEL = "${attr.kernel.name}"
        NODE = "${node.unique.name}"
        RACK = "${meta.rack}"
        ESCAPED = "$${NOT_INTERPOLATED}"
      }
      template {
        destination = "local/out.txt"
        data = <<EOH
alloc={{ env "NOMAD_ALLOC_ID" }}
EOH
      }
    }
  }
}
"""
    )
    assert api["Meta"] == {"version": "6", "enabled": "true"}
    task = api["TaskGroups"][0]["Tasks"][0]
    assert task["Env"] == {
        "ALLOC": "${NOMAD_ALLOC_ID}",
        "KERNEL": "${attr.kernel.name}",
        "NODE": "${node.unique.name}",
        "RACK": "${meta.rack}",
        "ESCAPED": "${NOT_INTERPOLATED}",
    }
    assert task["Templates"] == [
        {"DestPath": "local/out.txt", "EmbeddedTmpl": 'alloc={{ env "NOMAD_ALLOC_ID" }}\n'}
    ]


def test_variables_and_locals_are_substituted_from_defaults() -> None:
    api = parse_job_api(
        """
variable "image" {
  default = "redis:7"
}
variable "dcs" {
  default = ["dc1", "dc2"]
}
variable "war" {
  default = { version = "2.4" }
}
variable "replicas" {
  default = 3
}
locals {
  tag = "cache-${var.image}"
}
job "v" {
  datacenters = var.dcs
  group "g" {
    count = var.replicas
    task "t" {
      driver = "docker"
      config {
        image = var.image
        args  = ["${local.tag}", "v${var.war.version}", "${NOMAD_TASK_NAME}"]
      }
    }
  }
}
"""
    )
    assert api["Datacenters"] == ["dc1", "dc2"]
    group = api["TaskGroups"][0]
    assert group["Count"] == 3
    assert group["Tasks"][0]["Config"] == {
        "image": "redis:7",
        "args": ["cache-redis:7", "v2.4", "${NOMAD_TASK_NAME}"],
    }


def test_variable_values_given_by_caller_override_defaults() -> None:
    text = 'variable "region" {}\njob "v" {\n  region = var.region\n  group "g" {\n' + (
        '    task "t" { driver = "exec" }\n  }\n}\n'
    )
    job = parse_job(text, "v.nomad", variables={"region": "eu"})
    assert job.region == "eu"


def test_used_variable_without_default_is_a_located_error() -> None:
    text = 'variable "region" {}\n\njob "v" {\n  region = var.region\n  group "g" {\n' + (
        '    task "t" { driver = "exec" }\n  }\n}\n'
    )
    with pytest.raises(JobSpecError) as info:
        parse_job(text, "v.nomad")
    assert str(info.value) == (
        'v.nomad:4: variable "region" is used but has no default and no value was given'
    )


def test_unused_variable_without_default_is_fine() -> None:
    job = parse_job('variable "x" {}\njob "v" {\n  task "t" { driver = "exec" }\n}\n')
    assert job.id == "v"


def test_dynamic_blocks_are_rejected_with_their_line() -> None:
    text = (
        'job "d" {\n  group "g" {\n    dynamic "constraint" {\n      for_each = ["a"]\n'
        '      content { attribute = "x" }\n    }\n    task "t" { driver = "exec" }\n  }\n}\n'
    )
    with pytest.raises(JobSpecError) as info:
        parse_job(text, "d.nomad")
    assert str(info.value) == 'd.nomad:3: group "g": dynamic blocks are not supported'


def test_bad_duration_is_a_located_error() -> None:
    text = (
        'job "d" {\n  group "g" {\n    restart {\n      delay = "15 seconds"\n    }\n'
        '    task "t" { driver = "exec" }\n  }\n}\n'
    )
    with pytest.raises(JobSpecError) as info:
        parse_job(text, "d.nomad")
    assert info.value.line == 4
    assert 'group "g" restart: delay:' in str(info.value)


def test_periodic_and_parameterized_blocks() -> None:
    job = parse_job(
        """
job "p" {
  type = "batch"
  periodic {
    crons            = ["*/5 * * * *"]
    prohibit_overlap = true
    time_zone        = "Europe/Madrid"
  }
  parameterized {
    payload       = "required"
    meta_required = ["input"]
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}
"""
    )
    assert job.periodic is not None
    assert job.periodic.specs == ["*/5 * * * *"]
    assert job.periodic.spec_type == "cron"
    assert job.periodic.prohibit_overlap is True
    assert job.periodic.time_zone == "Europe/Madrid"
    assert job.parameterized_job is not None
    assert job.parameterized_job.payload == "required"
    assert job.parameterized_job.meta_required == ["input"]


def test_more_than_one_job_block_is_rejected() -> None:
    text = 'job "a" {\n  task "t" { driver = "exec" }\n}\n\njob "b" {\n}\n'
    with pytest.raises(JobSpecError) as info:
        parse_job(text, "two.nomad")
    assert info.value.line == 5
    assert "only one job block" in str(info.value)
