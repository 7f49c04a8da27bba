"""A fixed, Nomad-shaped cluster behind httpx.MockTransport, a frozen clock, and
the console views it is pictured in (snapshot tests and `make screenshots`).

`FakeCluster` answers every endpoint the console's views read with FIXED data:
five jobs (a service with a running canary deployment, a batch, a system, a
blocked batch with placement failures and a stopped one), allocations in every
client status, two nodes (one draining), three servers with a leader,
deployments, evaluations, a service catalog (one critical instance), an
event stream and one task's logs. Blocking
queries answer at once with `X-Nomad-Index: INDEX` and, when asked with
`index >= INDEX`, hold the request (up to its `wait`) so watches do not spin;
`close()` releases every held request.

The logs and events views open their own HTTP clients (not the app's), so
`patched_streams` points those at the same fake. `frozen_clock` pins
`datetime.now` in the console modules to `NOW` and the zone to UTC.

`VIEWS` names every pictured view with how to open it and when it has drawn
its data; `fake_console` runs a ConsoleApp on a fresh FakeCluster (clock
frozen, streams patched, cwd = the fixtures, animations off); `show_view` opens
a view there and returns its SVG once the picture holds still; `screen_text`
is the same screen as plain text. Used by tests/tui/test_tui_snapshots.py and
scripts/screenshots.py.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import threading
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from rich.console import Console
from textual.pilot import Pilot

from nomadtui.client import NomadClient

Json = dict[str, Any]

NOW = datetime(2024, 5, 14, 10, 30, 0, tzinfo=UTC)
"""The frozen instant: every relative time ("3h ago") is measured from here."""
SEC = 1_000_000_000
NOW_NS = int(NOW.timestamp()) * SEC
INDEX = 1200
"""The Raft index every blocking query answers with."""
ADDRESS = "http://nomad.example:4646"
FIXTURES = Path(__file__).parent / "snapshots" / "fixtures"
PLAN_FILE = "web.nomad"
"""The job file the plan preview plans (in FIXTURES; the same job with count 3 -> 5)."""

NODE1 = "5e1a0c3b-7d2f-4b8e-9a61-0c4f2d8e1b01"
NODE2 = "9b7c4e21-3a5d-4f6e-8b12-7d9e0a3c5f02"
DEP_CANARY = "d7a1c0e4-2b3f-4c5d-8e9f-0a1b2c3d4e01"
DEP_DONE = "b24e9f10-6c7d-4e8f-9a0b-1c2d3e4f5a02"
DEP_CANCELLED = "4c8d2a71-9e0f-4a1b-8c2d-3e4f5a6b7c03"
EVAL_WEB = "e1f3a2b4-1111-4a2b-8c3d-4e5f6a7b8c01"
EVAL_WATCHER = "a93c7d15-2222-4b3c-9d4e-5f6a7b8c9d02"
EVAL_FAILED = "c5d81e26-3333-4c4d-8e5f-6a7b8c9d0e03"
EVAL_BLOCKED = "f27b9c37-4444-4d5e-9f6a-7b8c9d0e1f04"
EVAL_DRAIN = "0b6e4f48-5555-4e6f-8a7b-8c9d0e1f2a05"
EVAL_REPORT = "7d2a5b59-6666-4f7a-9b8c-9d0e1f2a3b06"
EVAL_LEGACY = "3e9f6c6a-7777-4a8b-8c9d-0e1f2a3b4c07"
CANARY_ALLOC = "8f3b2c1d-aaaa-4b5c-9d6e-7f8a9b0c1d04"
"""The canary of the running deployment: the Allocation and Logs views show it."""
LOG_TASK = "nginx"


def ago(seconds: float) -> int:
    """Unix nanoseconds `seconds` before NOW."""
    return NOW_NS - int(seconds * SEC)


def rfc3339(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- jobs ------------------------------------------------------------------------------

WEB_HCL = """\
job "web" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel     = 1
    canary           = 1
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    auto_revert      = true
  }

  group "frontend" {
    count = 3

    meta {
      owner = "team-web"
    }

    network {
      port "http" {
        to = 8080
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
"""


def _task(name: str, driver: str, config: Json, cpu: int, memory: int) -> Json:
    return {
        "Name": name,
        "Driver": driver,
        "Config": config,
        "Env": None,
        "Resources": {"CPU": cpu, "MemoryMB": memory},
    }


def _group(name: str, count: int, tasks: list[Json], **extra: Any) -> Json:
    return {
        "Name": name,
        "Count": count,
        "Tasks": tasks,
        "Meta": None,
        "Constraints": None,
        "ReschedulePolicy": {"Attempts": 0, "Unlimited": True},
        **extra,
    }


def _web_job(version: int) -> Json:
    image = "nginx:1.27" if version >= 3 else "nginx:1.25"
    count = 2 if version <= 1 else 3
    task = _task("nginx", "docker", {"image": image, "ports": ["http"]}, 200, 128)
    update = {"MaxParallel": 1, "Canary": 1, "AutoRevert": True, "AutoPromote": False}
    group = _group("frontend", count, [task], Meta={"owner": "team-web"}, Update=update)
    return {
        "ID": "web", "Name": "web", "Type": "service", "Priority": 50,
        "Status": "running", "Stop": False, "Version": version, "Stable": version < 3,
        "SubmitTime": ago({3: 1260, 2: 10_900, 1: 86_400 * 2}[version]),
        "TaskGroups": [group], "Update": update,
        "CreateIndex": 600, "ModifyIndex": 1148, "JobModifyIndex": 1148,
    }


def _job(job_id: str, kind: str, priority: int, status: str, submitted_ago: float,
         groups: list[Json], version: int = 0, **extra: Any) -> Json:
    return {
        "ID": job_id, "Name": job_id, "Type": kind, "Priority": priority,
        "Status": status, "Stop": False, "Version": version, "Stable": True,
        "SubmitTime": ago(submitted_ago), "TaskGroups": groups,
        "CreateIndex": 500, "ModifyIndex": 1100, "JobModifyIndex": 1100, **extra,
    }


def _common(job: Json) -> Json:
    base = {
        "Namespace": "default", "Region": "global", "Datacenters": ["dc1"],
        "NodePool": "default", "ParentID": "", "Periodic": None, "ParameterizedJob": None,
        "Dispatched": False, "StatusDescription": "", "Meta": None,
    }
    return {**base, **job}


JOBS: dict[str, Json] = {
    j["ID"]: _common(j)
    for j in (
        _web_job(3),
        _job("report", "batch", 40, "running", 7_300, [
            _group("etl", 3, [_task("etl", "exec", {"command": "/usr/local/bin/etl"}, 500, 512)]),
        ]),
        _job("node-exporter", "system", 70, "running", 86_400 * 6, [
            _group("exporter", 1, [
                _task("node-exporter", "docker", {"image": "prom/node-exporter:v1.8"}, 100, 64),
            ]),
        ], version=1),
        _job("ml-train", "batch", 60, "pending", 720, [
            _group("trainer", 2, [
                _task("train", "docker", {"image": "ml/train:2024.05"}, 2000, 4096),
            ], Constraints=[{"LTarget": "${attr.gpu.count}", "RTarget": "1", "Operand": ">="}]),
        ]),
        _job("legacy", "service", 30, "dead", 86_400 * 3, [
            _group("app", 2, [_task("app", "exec", {"command": "/opt/legacy/run"}, 250, 256)]),
        ], version=1, Stop=True),
    )
}

SUMMARY_KEYS = ("Queued", "Complete", "Failed", "Running", "Starting", "Lost", "Unknown")


def _summary(job_id: str, groups: dict[str, dict[str, int]]) -> Json:
    return {
        "JobID": job_id, "Namespace": "default",
        "Summary": {g: {k: counts.get(k, 0) for k in SUMMARY_KEYS} for g, counts in groups.items()},
        "Children": {"Pending": 0, "Running": 0, "Dead": 0},
        "CreateIndex": 500, "ModifyIndex": 1195,
    }


SUMMARIES: dict[str, Json] = {
    "web": _summary("web", {"frontend": {"Running": 4, "Lost": 1}}),
    "report": _summary("report", {"etl": {"Complete": 1, "Failed": 1, "Starting": 1}}),
    "node-exporter": _summary("node-exporter", {"exporter": {"Running": 2}}),
    "ml-train": _summary("ml-train", {"trainer": {"Queued": 2}}),
    "legacy": _summary("legacy", {"app": {"Complete": 1, "Unknown": 1}}),
}


def job_stub(job: Json) -> Json:
    keys = ("ID", "ParentID", "Name", "Namespace", "Datacenters", "NodePool", "Type",
            "Priority", "Periodic", "ParameterizedJob", "Stop", "Status", "StatusDescription",
            "SubmitTime", "CreateIndex", "ModifyIndex", "JobModifyIndex")
    stub = {k: job.get(k) for k in keys}
    stub["Periodic"] = bool(job.get("Periodic"))
    stub["ParameterizedJob"] = bool(job.get("ParameterizedJob"))
    stub["JobSummary"] = SUMMARIES[job["ID"]]
    return stub


# -- allocations -----------------------------------------------------------------------

NODE_NAMES = {NODE1: "worker-1", NODE2: "worker-2"}


@dataclass(frozen=True)
class A:
    """The varying part of one allocation."""

    id: str
    job: str
    group: str
    slot: int
    node: str
    client: str
    desired: str
    created_ago: float
    modified_ago: float
    index: int
    version: int = 0
    deployment: str = ""
    canary: bool = False
    description: str = ""


ALLOC_ROWS = (
    A("2a6d4c1e-aaaa-4b5c-9d6e-7f8a9b0c1d01", "web", "frontend", 0, NODE1, "running", "run",
      10_800, 10_780, 900, 2, DEP_DONE, description="Tasks are running"),
    A("3b7e5d2f-aaaa-4b5c-9d6e-7f8a9b0c1d02", "web", "frontend", 1, NODE2, "running", "run",
      10_800, 10_770, 901, 2, DEP_DONE, description="Tasks are running"),
    A("4c8f6e3a-aaaa-4b5c-9d6e-7f8a9b0c1d03", "web", "frontend", 2, NODE1, "running", "run",
      10_800, 10_775, 902, 2, DEP_DONE, description="Tasks are running"),
    A(CANARY_ALLOC, "web", "frontend", 0, NODE2, "running", "run",
      1_250, 1_190, 1152, 3, DEP_CANARY, canary=True, description="Tasks are running"),
    A("9e1a7b3c-aaaa-4b5c-9d6e-7f8a9b0c1d05", "web", "frontend", 1, NODE2, "lost", "stop",
      18_000, 10_820, 880, 2, DEP_DONE, description="alloc is lost since its node is down"),
    A("1d5c3a9b-bbbb-4c6d-8e7f-9a0b1c2d3e01", "report", "etl", 0, NODE1, "complete", "run",
      7_290, 6_900, 1001),
    A("6a2b8c4d-bbbb-4c6d-8e7f-9a0b1c2d3e02", "report", "etl", 1, NODE2, "failed", "run",
      7_290, 7_010, 1002, description="Failed tasks"),
    A("b4e9d5f6-bbbb-4c6d-8e7f-9a0b1c2d3e03", "report", "etl", 2, NODE1, "pending", "run",
      30, 28, 1195, description="No tasks have started"),
    A("c7f1a2b3-cccc-4d7e-9f8a-0b1c2d3e4f01", "node-exporter", "exporter", 0, NODE1, "running",
      "run", 86_400 * 6, 86_390 * 6, 300, 1, description="Tasks are running"),
    A("d8a2b3c4-cccc-4d7e-9f8a-0b1c2d3e4f02", "node-exporter", "exporter", 0, NODE2, "running",
      "run", 86_400 * 6, 86_390 * 6, 301, 1, description="Tasks are running"),
    A("e9b3c4d5-dddd-4e8f-8a9b-1c2d3e4f5a01", "legacy", "app", 0, NODE1, "complete", "stop",
      86_400 * 3, 86_000 * 3, 700, 1, description="All tasks have completed"),
    A("f0c4d5e6-dddd-4e8f-8a9b-1c2d3e4f5a02", "legacy", "app", 1, NODE2, "unknown", "stop",
      86_400 * 3, 86_100 * 3, 701, 1,
      description="alloc is unknown since its node is disconnected"),
)


def _resources(job: Json, group: str) -> Json:
    tg = next(g for g in job["TaskGroups"] if g["Name"] == group)
    tasks = {
        t["Name"]: {
            "Cpu": {"CpuShares": t["Resources"]["CPU"]},
            "Memory": {"MemoryMB": t["Resources"]["MemoryMB"]},
        }
        for t in tg["Tasks"]
    }
    ports = []
    if job["ID"] == "web":
        ports = [{"Label": "http", "Value": 23817, "To": 8080, "HostIP": "10.0.1.12"}]
    return {"Tasks": tasks, "Shared": {"DiskMB": 300, "Ports": ports}}


def alloc_stub(a: A) -> Json:
    job = JOBS[a.job]
    stub: Json = {
        "ID": a.id, "EvalID": EVAL_WEB if a.job == "web" else EVAL_REPORT,
        "Name": f"{a.job}.{a.group}[{a.slot}]", "Namespace": "default",
        "NodeID": a.node, "NodeName": NODE_NAMES[a.node], "JobID": a.job,
        "JobType": job["Type"], "JobVersion": a.version, "TaskGroup": a.group,
        "DesiredStatus": a.desired, "DesiredDescription": "",
        "ClientStatus": a.client, "ClientDescription": a.description,
        "CreateIndex": a.index, "ModifyIndex": a.index + 5,
        "CreateTime": ago(a.created_ago), "ModifyTime": ago(a.modified_ago),
        "AllocatedResources": _resources(job, a.group),
    }
    if a.deployment:
        stub["DeploymentID"] = a.deployment
        stub["DeploymentStatus"] = {"Healthy": a.client == "running", "Canary": a.canary}
    return stub


ALLOCS: list[Json] = [alloc_stub(a) for a in ALLOC_ROWS]


def _event(kind: str, seconds_ago: float, **extra: Any) -> Json:
    return {"Type": kind, "Time": ago(seconds_ago), "FailsTask": False, **extra}


def full_alloc(stub: Json) -> Json:
    job = JOBS[stub["JobID"]]
    if stub["JobID"] == "web":
        job = _web_job(int(stub["JobVersion"]))
        job = _common(job)
    tasks = next(g for g in job["TaskGroups"] if g["Name"] == stub["TaskGroup"])["Tasks"]
    created = (NOW_NS - stub["CreateTime"]) / SEC
    running = stub["ClientStatus"] == "running"
    state = "running" if running else "pending" if stub["ClientStatus"] == "pending" else "dead"
    states = {}
    for t in tasks:
        image = t["Config"].get("image")
        events = [
            _event("Received", created, DisplayMessage="Task received by client"),
            _event("Task Setup", created - 1, DisplayMessage="Building Task Directory"),
            _event("Driver", created - 2,
                   DisplayMessage=f"Downloading image {image}" if image else "Preparing task"),
            _event("Started", created - 9, DisplayMessage="Task started by client"),
        ]
        if stub["ID"] == CANARY_ALLOC:
            events += [
                _event("Restart Signaled", 1_200,
                       DisplayMessage="Template with change_mode restart re-rendered"),
                _event("Restarting", 1_199, DisplayMessage="Task restarting in 0s"),
                _event("Started", 1_190, DisplayMessage="Task started by client"),
            ]
        states[t["Name"]] = {
            "State": state,
            "Failed": stub["ClientStatus"] == "failed",
            "Restarts": 1 if stub["ID"] == CANARY_ALLOC else 0,
            "StartedAt": rfc3339(1_190 if stub["ID"] == CANARY_ALLOC else created - 9),
            "FinishedAt": None if running else rfc3339(max(created - 300, 1)),
            "Events": events,
        }
    return {**stub, "Job": job, "TaskStates": states}


# -- nodes -----------------------------------------------------------------------------


def _node(node_id: str, name: str, ip: str, draining: bool) -> Json:
    drivers = {
        "docker": {"Detected": True, "Healthy": True, "HealthDescription": "Healthy",
                   "UpdateTime": rfc3339(86_400 * 7)},
        "exec": {"Detected": True, "Healthy": True, "HealthDescription": "Healthy",
                 "UpdateTime": rfc3339(86_400 * 7)},
        "raw_exec": {"Detected": False, "Healthy": False, "HealthDescription": "disabled",
                     "UpdateTime": rfc3339(86_400 * 7)},
    }
    events = [
        {"Message": "Node registered", "Subsystem": "Cluster", "Timestamp": rfc3339(86_400 * 7),
         "CreateIndex": 10, "Details": None},
    ]
    if draining:
        events += [
            {"Message": "Node drain strategy set", "Subsystem": "Drain",
             "Timestamp": rfc3339(300), "CreateIndex": 1178, "Details": None},
            {"Message": "Node marked as ineligible for scheduling", "Subsystem": "Cluster",
             "Timestamp": rfc3339(300), "CreateIndex": 1179, "Details": None},
        ]
    return {
        "ID": node_id, "Name": name, "Datacenter": "dc1", "NodeClass": "general",
        "NodePool": "default", "Address": ip, "HTTPAddr": f"{ip}:4646", "Version": "0.1.0",
        "Drain": draining, "SchedulingEligibility": "ineligible" if draining else "eligible",
        "DrainStrategy": {"Deadline": 3600 * SEC, "ForceDeadline": rfc3339(-3300),
                          "IgnoreSystemJobs": False, "StartedAt": rfc3339(300)}
        if draining else None,
        "Status": "ready", "StatusDescription": "",
        "StatusUpdatedAt": int(NOW.timestamp()) - (300 if draining else 86_400 * 7),
        "Drivers": drivers, "Events": events,
        "Attributes": {
            "arch": "amd64", "cpu.numcores": "4", "cpu.totalcompute": "4000",
            "driver.docker": "1", "driver.exec": "1", "kernel.name": "linux",
            "kernel.version": "6.8.0", "memory.totalbytes": str(8192 * 1024 * 1024),
            "nomad.version": "0.1.0", "os.name": "ubuntu", "os.version": "24.04",
            "unique.hostname": name, "unique.network.ip-address": ip,
        },
        "Meta": {"rack": "r1" if not draining else "r2"},
        "NodeResources": {"Cpu": {"CpuShares": 4000}, "Memory": {"MemoryMB": 8192},
                          "Disk": {"DiskMB": 100_000}},
        "ReservedResources": {"Cpu": {"CpuShares": 100}, "Memory": {"MemoryMB": 256},
                              "Disk": {"DiskMB": 0}},
        "CreateIndex": 10, "ModifyIndex": 1179 if draining else 12,
    }


NODES: dict[str, Json] = {
    NODE1: _node(NODE1, "worker-1", "10.0.1.11", draining=False),
    NODE2: _node(NODE2, "worker-2", "10.0.1.12", draining=True),
}

# -- deployments, evaluations ----------------------------------------------------------


def _dep_group(**over: Any) -> Json:
    base = {
        "AutoRevert": True, "AutoPromote": False, "Promoted": False, "DesiredCanaries": 0,
        "PlacedCanaries": None, "DesiredTotal": 3, "PlacedAllocs": 3, "HealthyAllocs": 3,
        "UnhealthyAllocs": 0, "ProgressDeadline": 600 * SEC,
        "RequireProgressBy": "0001-01-01T00:00:00Z",
    }
    return {**base, **over}


DEPLOYMENTS: list[Json] = [
    {
        "ID": DEP_CANARY, "Namespace": "default", "JobID": "web", "JobVersion": 3,
        "Status": "running",
        "StatusDescription": "Deployment is running but requires manual promotion",
        "TaskGroups": {"frontend": _dep_group(
            DesiredCanaries=1, PlacedCanaries=[CANARY_ALLOC], PlacedAllocs=1, HealthyAllocs=1,
            RequireProgressBy=rfc3339(-470),
        )},
        "CreateIndex": 1150, "ModifyIndex": 1165, "CreateTime": ago(1_255),
        "ModifyTime": ago(1_150),
    },
    {
        "ID": DEP_DONE, "Namespace": "default", "JobID": "web", "JobVersion": 2,
        "Status": "successful", "StatusDescription": "Deployment completed successfully",
        "TaskGroups": {"frontend": _dep_group()},
        "CreateIndex": 895, "ModifyIndex": 910, "CreateTime": ago(10_890),
        "ModifyTime": ago(10_700),
    },
    {
        "ID": DEP_CANCELLED, "Namespace": "default", "JobID": "legacy", "JobVersion": 1,
        "Status": "cancelled", "StatusDescription": "Cancelled because job is stopped",
        "TaskGroups": {"app": _dep_group(DesiredTotal=2, PlacedAllocs=2, HealthyAllocs=1,
                                         UnhealthyAllocs=1)},
        "CreateIndex": 690, "ModifyIndex": 720, "CreateTime": ago(86_400 * 3),
        "ModifyTime": ago(86_000 * 3),
    },
]


def _eval(eval_id: str, job: str, trigger: str, status: str, index: int, created_ago: float,
          **extra: Any) -> Json:
    return {
        "ID": eval_id, "Namespace": "default", "Priority": JOBS[job]["Priority"],
        "Type": JOBS[job]["Type"], "TriggeredBy": trigger, "JobID": job, "Status": status,
        "StatusDescription": "", "CreateIndex": index, "ModifyIndex": index + 2,
        "CreateTime": ago(created_ago), "ModifyTime": ago(created_ago - 1),
        **extra,
    }


GPU_FILTERED = {
    "NodesEvaluated": 2, "NodesFiltered": 2, "NodesAvailable": {"dc1": 2},
    "ConstraintFiltered": {"${attr.gpu.count} >= 1": 2}, "NodesExhausted": 0,
    "CoalescedFailures": 1,
}

EVALS: list[Json] = [
    _eval(EVAL_WEB, "web", "job-register", "complete", 1148, 1_260,
          DeploymentID=DEP_CANARY, JobModifyIndex=1148),
    _eval(EVAL_WATCHER, "web", "deployment-watcher", "complete", 1160, 1_180,
          DeploymentID=DEP_CANARY),
    _eval(EVAL_FAILED, "ml-train", "job-register", "complete", 1170, 720,
          FailedTGAllocs={"trainer": GPU_FILTERED}, BlockedEval=EVAL_BLOCKED,
          QueuedAllocations={"trainer": 2}),
    _eval(EVAL_BLOCKED, "ml-train", "queued-allocs", "blocked", 1171, 719,
          PreviousEval=EVAL_FAILED,
          StatusDescription="created to place remaining allocations"),
    _eval(EVAL_DRAIN, "node-exporter", "node-drain", "complete", 1180, 300, NodeID=NODE2),
    _eval(EVAL_REPORT, "report", "job-register", "complete", 1000, 7_300),
    _eval(EVAL_LEGACY, "legacy", "job-deregister", "complete", 700, 86_400 * 3),
]

# -- servers ---------------------------------------------------------------------------


def _member(n: int) -> Json:
    return {
        "Name": f"server-{n}.global", "Addr": f"10.0.0.1{n}", "Port": 4648, "Status": "alive",
        "Tags": {"region": "global", "dc": "dc1", "port": "4647", "build": "0.1.0",
                 "role": "nomad", "bootstrap_expect": "3"},
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
    }


MEMBERS: Json = {
    "ServerName": "server-1.global", "ServerRegion": "global", "ServerDC": "dc1",
    "Members": [_member(1), _member(2), _member(3)],
}
LEADER = "10.0.0.11:4647"
AGENT_SELF: Json = {
    "member": _member(1),
    "stats": {"raft": {"state": "Leader", "term": "4", "last_log_index": str(INDEX)}},
    "config": {"Region": "global", "Datacenter": "dc1"},
}

# -- service catalog -------------------------------------------------------------------


def _check(name: str, status: str, output: str, ran_ago: float = 4) -> Json:
    return {"Name": name, "Status": status, "Output": output, "Timestamp": ago(ran_ago)}


def _registration(service: str, alloc: Json, task: str, port: int, tags: list[str],
                  health: str, checks: list[Json]) -> Json:
    ip = NODES[alloc["NodeID"]]["HTTPAddr"].split(":")[0]
    return {
        "ID": f"_nomad-task-{alloc['ID']}-{task}-{service}-http",
        "ServiceName": service, "Namespace": "default", "NodeID": alloc["NodeID"],
        "Datacenter": "dc1", "JobID": alloc["JobID"], "AllocID": alloc["ID"],
        "Tags": tags, "Address": ip, "Port": port, "Health": health, "Checks": checks,
        "CreateIndex": alloc["CreateIndex"] + 10, "ModifyIndex": 1190,
    }


def _web(alloc: Json, port: int, health: str, output: str) -> Json:
    http = "HTTP GET /healthz: 200 OK" if health == "passing" else output
    return _registration("web", alloc, "nginx", port, ["http", "frontend"], health, [
        _check("alive", "passing", "TCP connect: Success"),
        _check("healthz", health, http),
    ])


SERVICE_REGS: list[Json] = [
    _web(ALLOCS[0], 23817, "passing", ""),
    _web(ALLOCS[1], 27412, "passing", ""),
    _web(ALLOCS[2], 21908, "critical",
         "HTTP GET /healthz: 503 Service Unavailable\nupstream \"app\" has no live peers"),
    _web(ALLOCS[3], 25561, "passing", ""),
    _registration("web-admin", ALLOCS[3], "nginx", 25562, ["admin"], "warning", [
        _check("admin-ui", "warning", "HTTP GET /admin: 429 Too Many Requests", 12),
    ]),
    *(
        _registration("node-exporter", a, "node-exporter", 9100, ["prometheus"], "", [])
        for a in ALLOCS[8:10]
    ),
]
"""Four instances of `web` (one critical), `web-admin` warning, `node-exporter` without checks."""


def service_listing() -> list[Json]:
    tags: dict[str, set[str]] = {}
    for r in SERVICE_REGS:
        tags.setdefault(r["ServiceName"], set()).update(r["Tags"])
    services = [{"ServiceName": n, "Tags": sorted(t)} for n, t in sorted(tags.items())]
    return [{"Namespace": "default", "Services": services}]


# -- versions, plan, events, logs ------------------------------------------------------


def _field(kind: str, name: str, old: str, new: str, notes: list[str] | None = None) -> Json:
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": notes}


def _group_diff(fields: list[Json], tasks: list[Json], updates: Json | None = None) -> Json:
    return {"Type": "Edited", "Name": "frontend", "Fields": fields, "Objects": None,
            "Tasks": tasks, "Updates": updates}


def _task_diff(kind: str, fields: list[Json] | None, objects: list[Json] | None,
               notes: list[str] | None = None) -> Json:
    return {"Type": kind, "Name": "nginx", "Fields": fields, "Objects": objects,
            "Annotations": notes}


VERSIONS: Json = {
    "Versions": [_common(_web_job(3)), _common(_web_job(2)), _common(_web_job(1))],
    "Diffs": [
        {"Type": "Edited", "ID": "web", "Fields": None, "Objects": None, "TaskGroups": [
            _group_diff([], [_task_diff("Edited", None, [{
                "Type": "Edited", "Name": "Config", "Objects": None,
                "Fields": [_field("Edited", "image", "nginx:1.25", "nginx:1.27")],
            }], ["forces create/destroy update"])]),
        ]},
        {"Type": "Edited", "ID": "web", "Fields": None, "Objects": None, "TaskGroups": [
            _group_diff([_field("Edited", "Count", "2", "3", ["forces create"])],
                        [_task_diff("None", None, None)]),
        ]},
    ],
}

PLAN: Json = {
    "Annotations": {
        "DesiredTGUpdates": {"frontend": {
            "Ignore": 0, "Place": 2, "Migrate": 0, "Stop": 0, "InPlaceUpdate": 0,
            "DestructiveUpdate": 3, "Canary": 0, "Preemptions": 0,
        }},
        "PreemptedAllocs": None,
    },
    "FailedTGAllocs": None,
    "JobModifyIndex": 1148,
    "CreatedEvals": None,
    "Diff": {"Type": "Edited", "ID": "web", "Fields": None, "Objects": None, "TaskGroups": [
        _group_diff(
            [
                _field("Edited", "Count", "3", "5", ["forces create"]),
                _field("Deleted", "Meta[owner]", "team-web", ""),
            ],
            [_task_diff("Edited", [_field("Added", "Env[LOG_LEVEL]", "", "info")], None,
                        ["forces create/destroy update"])],
            {"create": 2, "create/destroy update": 3},
        ),
    ]},
    "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
    "Warnings": "",
    "Index": 1148,
}


def _stream_event(topic: str, kind: str, key: str, index: int, payload: Json) -> Json:
    return {"Topic": topic, "Type": kind, "Key": key, "Namespace": "default",
            "FilterKeys": None, "Index": index, "Payload": payload}


def _by_id(items: list[Json], item_id: str) -> Json:
    return next(i for i in items if i["ID"] == item_id)


EVENTS: list[Json] = [
    _stream_event("Job", "JobRegistered", "web", 1148, {"Job": JOBS["web"]}),
    _stream_event("Evaluation", "EvaluationUpdated", EVAL_WEB, 1149,
                  {"Evaluation": _by_id(EVALS, EVAL_WEB)}),
    _stream_event("Deployment", "DeploymentStatusUpdate", DEP_CANARY, 1150,
                  {"Deployment": {"ID": DEP_CANARY, "ModifyTime": ago(1_255)}}),
    _stream_event("Allocation", "AllocationUpdated", CANARY_ALLOC, 1152,
                  {"Allocation": {"ID": CANARY_ALLOC, "ModifyTime": ago(1_190)}}),
    _stream_event("Job", "JobRegistered", "ml-train", 1169, {"Job": JOBS["ml-train"]}),
    _stream_event("Evaluation", "EvaluationUpdated", EVAL_BLOCKED, 1171,
                  {"Evaluation": _by_id(EVALS, EVAL_BLOCKED)}),
    _stream_event("Node", "NodeDrain", NODE2, 1179,
                  {"Node": {"ID": NODE2, "StatusUpdatedAt": NODES[NODE2]["StatusUpdatedAt"]}}),
    _stream_event("Allocation", "AllocationUpdated", ALLOCS[7]["ID"], 1195,
                  {"Allocation": {"ID": ALLOCS[7]["ID"], "ModifyTime": ago(28)}}),
]

LOG_LINES = {
    "stdout": [
        f"10.0.1.{20 + i % 7} - - [{(NOW - timedelta(seconds=1_180 - 53 * i)):%d/%b/%Y:%H:%M:%S}"
        f' +0000] "GET {path} HTTP/1.1" {code} {size} "-" "{agent}"'
        for i, (path, code, size, agent) in enumerate(
            [
                ("/", 200, 612, "curl/8.5.0"),
                ("/healthz", 200, 2, "consul-health"),
                ("/static/app.js", 200, 48213, "Mozilla/5.0"),
                ("/static/app.css", 200, 9120, "Mozilla/5.0"),
                ("/api/v1/items?page=2", 200, 3318, "Mozilla/5.0"),
                ("/favicon.ico", 404, 153, "Mozilla/5.0"),
                ("/healthz", 200, 2, "consul-health"),
                ("/login", 302, 0, "Mozilla/5.0"),
                ("/dashboard", 200, 18004, "Mozilla/5.0"),
                ("/api/v1/items/42", 200, 611, "python-httpx/0.27"),
                ("/api/v1/items/43", 404, 153, "python-httpx/0.27"),
                ("/healthz", 200, 2, "consul-health"),
                ("/", 200, 612, "Mozilla/5.0"),
                ("/api/v1/orders", 500, 87, "python-httpx/0.27"),
                ("/api/v1/orders", 200, 2204, "python-httpx/0.27"),
                ("/healthz", 200, 2, "consul-health"),
            ]
        )
    ],
    "stderr": [
        "2024/05/14 10:10:10 [notice] 1#1: using the \"epoll\" event method",
        "2024/05/14 10:10:10 [notice] 1#1: nginx/1.27.0",
        "2024/05/14 10:10:10 [notice] 1#1: start worker processes",
        "2024/05/14 10:21:33 [error] 29#29: *51 open() \"/usr/share/nginx/html/favicon.ico\" "
        "failed (2: No such file or directory)",
    ],
}


def log_frames(stream: str) -> bytes:
    """The task's log as Nomad's framed stream: one frame per four lines."""
    lines = LOG_LINES.get(stream, [])
    out, offset = [], 0
    for start in range(0, len(lines), 4):
        data = "".join(line + "\n" for line in lines[start:start + 4]).encode()
        offset += len(data)
        out.append(json.dumps({"Data": base64.b64encode(data).decode(), "Offset": offset,
                               "File": f"alloc/logs/{LOG_TASK}.{stream}.0"}))
    return "".join(out).encode()


# -- the server ------------------------------------------------------------------------


class HeldStream(httpx.SyncByteStream):
    """A streaming body: `chunks`, then silence until closed (a live follow)."""

    def __init__(self, chunks: list[bytes], *stops: threading.Event) -> None:
        self.chunks = chunks
        self.stops = [*stops, threading.Event()]

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        # our own stop wakes us at once; the shared ones are checked between waits
        while not any(s.is_set() for s in self.stops):
            self.stops[-1].wait(0.02)

    def close(self) -> None:
        self.stops[-1].set()


class AbortableMockTransport(httpx.MockTransport):
    """Stands in for the logs view's own socket-aborting transport."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.aborted = threading.Event()
        super().__init__(lambda request: cluster.handle(request, self.aborted))

    def abort(self) -> None:
        self.aborted.set()


Route = Callable[[re.Match[str], httpx.Request], Any]


class FakeCluster:
    def __init__(self) -> None:
        self.closed = threading.Event()
        self.unhandled: list[str] = []
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        allocs_by_id = {a["ID"]: a for a in ALLOCS}
        for method, pattern, route in [
            ("GET", r"/v1/jobs", lambda m, r: [job_stub(j) for j in JOBS.values()]),
            ("GET", r"/v1/job/([^/]+)", lambda m, r: JOBS[m[1]]),
            ("GET", r"/v1/job/([^/]+)/summary", lambda m, r: SUMMARIES[m[1]]),
            ("GET", r"/v1/job/([^/]+)/allocations",
             lambda m, r: [a for a in ALLOCS if a["JobID"] == m[1]]),
            ("GET", r"/v1/job/([^/]+)/evaluations",
             lambda m, r: [e for e in EVALS if e["JobID"] == m[1]]),
            ("GET", r"/v1/job/([^/]+)/deployment",
             lambda m, r: next((d for d in DEPLOYMENTS if d["JobID"] == m[1]), None)),
            ("GET", r"/v1/job/([^/]+)/deployments",
             lambda m, r: [d for d in DEPLOYMENTS if d["JobID"] == m[1]]),
            ("GET", r"/v1/job/([^/]+)/versions", lambda m, r: self._versions(m[1])),
            ("GET", r"/v1/job/([^/]+)/submission", lambda m, r: self._submission(m[1], r)),
            ("PUT", r"/v1/job/([^/]+)/plan", lambda m, r: PLAN),
            ("GET", r"/v1/allocations", lambda m, r: ALLOCS),
            ("GET", r"/v1/allocation/([^/]+)", lambda m, r: full_alloc(allocs_by_id[m[1]])),
            ("GET", r"/v1/nodes", lambda m, r: [NODES[n] for n in sorted(NODES)]),
            ("GET", r"/v1/node/([^/]+)", lambda m, r: NODES[m[1]]),
            ("GET", r"/v1/node/([^/]+)/allocations",
             lambda m, r: [full_alloc(a) for a in ALLOCS if a["NodeID"] == m[1]]),
            ("GET", r"/v1/deployments", lambda m, r: DEPLOYMENTS),
            ("GET", r"/v1/deployment/([^/]+)", lambda m, r: _by_id(DEPLOYMENTS, m[1])),
            ("GET", r"/v1/deployment/allocations/([^/]+)",
             lambda m, r: [a for a in ALLOCS if a.get("DeploymentID") == m[1]
                           and a["JobVersion"] == _by_id(DEPLOYMENTS, m[1])["JobVersion"]]),
            ("GET", r"/v1/evaluations", lambda m, r: EVALS),
            ("GET", r"/v1/evaluation/([^/]+)", lambda m, r: _by_id(EVALS, m[1])),
            ("GET", r"/v1/evaluation/([^/]+)/allocations",
             lambda m, r: [a for a in ALLOCS if a["EvalID"] == m[1]
                           and a["JobVersion"] == JOBS[a["JobID"]]["Version"]]),
            ("GET", r"/v1/services", lambda m, r: service_listing()),
            ("GET", r"/v1/service/([^/]+)",
             lambda m, r: [s for s in SERVICE_REGS if s["ServiceName"] == m[1]]),
            ("GET", r"/v1/agent/members", lambda m, r: MEMBERS),
            ("GET", r"/v1/agent/self", lambda m, r: AGENT_SELF),
            ("GET", r"/v1/status/leader", lambda m, r: LEADER),
            ("GET", r"/v1/status/peers", lambda m, r: [f"10.0.0.1{n}:4647" for n in (1, 2, 3)]),
            # the console asks who its token is at start: this agent runs without ACLs
            ("GET", r"/v1/acl/token/self",
             lambda m, r: httpx.Response(400, text="ACL support disabled")),
        ]:
            self.routes.append((method, re.compile(pattern + "$"), route))

    # -- clients -----------------------------------------------------------------------
    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> NomadClient:
        return NomadClient(address=ADDRESS, transport=self.transport, env={})

    def close(self) -> None:
        """Release every held request and stream (then watches and streams end)."""
        self.closed.set()

    def held(self, path: str) -> bool:
        """Whether a blocking query on `path` is being held (its watch has had the data)."""
        with self._lock:
            return self._held.get(path, 0) > 0

    # -- answers -----------------------------------------------------------------------
    def _versions(self, job_id: str) -> Json:
        if job_id == "web":
            return VERSIONS
        return {"Versions": [JOBS[job_id]], "Diffs": []}

    def _submission(self, job_id: str, request: httpx.Request) -> Any:
        if job_id == "web":
            return {"Source": WEB_HCL, "Format": "hcl2", "Version": 3}
        return httpx.Response(404, text="job source not found")

    def handle(self, request: httpx.Request, aborted: threading.Event | None = None
               ) -> httpx.Response:
        path = request.url.path
        if path == "/v1/event/stream":
            return self._event_stream(request)
        if path.startswith("/v1/client/fs/logs/"):
            return self._logs(request, aborted or threading.Event())
        for method, pattern, route in self.routes:
            match = pattern.match(path)
            if match and method == request.method:
                try:
                    body = route(match, request)
                except (KeyError, StopIteration):
                    return httpx.Response(404, text=f"{path} not found")
                if isinstance(body, httpx.Response):
                    return body
                self._hold(request)
                return httpx.Response(
                    200, json=body,
                    headers={"X-Nomad-Index": str(INDEX), "X-Nomad-KnownLeader": "true",
                             "X-Nomad-LastContact": "0"},
                )
        self.unhandled.append(f"{request.method} {request.url}")
        return httpx.Response(404, text="Invalid URL")

    def _hold(self, request: httpx.Request) -> None:
        """A blocking query already at INDEX waits (nothing ever changes here)."""
        params = request.url.params
        if int(params.get("index") or 0) < INDEX:
            return
        wait = params.get("wait", "")
        seconds = float(wait[:-2]) / 1000 if wait.endswith("ms") else 5.0
        path = request.url.path
        with self._lock:
            self._held[path] = self._held.get(path, 0) + 1
        try:
            if not self.closed.wait(seconds):
                return
            time.sleep(0.05)  # a watch left running after close must not spin
        finally:
            with self._lock:
                self._held[path] -= 1

    def _event_stream(self, request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("index") or 0)
        topic = request.url.params.get("topic")
        lines = [
            (json.dumps({"Index": e["Index"], "Events": [e]}) + "\n").encode()
            for e in EVENTS
            if e["Index"] >= after and (not topic or e["Topic"] == topic)
        ]
        return httpx.Response(200, headers={"Content-Type": "application/json"},
                              stream=HeldStream(lines, self.closed))

    def _logs(self, request: httpx.Request, aborted: threading.Event) -> httpx.Response:
        alloc_id = request.url.path.rsplit("/", 1)[-1]
        params = request.url.params
        if alloc_id != CANARY_ALLOC or params.get("task") != LOG_TASK:
            return httpx.Response(404, text="unknown allocation or task")
        body = log_frames(params.get("type", "stdout"))
        if params.get("follow") != "true":
            return httpx.Response(200, content=body)
        if params.get("origin") == "start" and int(params.get("offset") or 0) > 0:
            body = b""  # a reconnect after the backlog: nothing new
        return httpx.Response(200, stream=HeldStream([body], self.closed, aborted))


@contextlib.contextmanager
def patched_streams(cluster: FakeCluster) -> Iterator[None]:
    """Point the logs and events views' own HTTP clients at `cluster`."""
    from nomadtui.tui.screens import events_stream, logs_stream

    def client(*args: Any, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("transport", cluster.transport)
        return httpx.Client(*args, **kwargs)

    fake_httpx = types.SimpleNamespace(**{**vars(httpx), "Client": client})
    with (
        mock.patch.object(
            logs_stream, "_AbortableTransport", lambda: AbortableMockTransport(cluster)
        ),
        mock.patch.object(events_stream, "httpx", fake_httpx),
    ):
        yield


# -- frozen clock ----------------------------------------------------------------------


class FrozenDatetime(datetime):
    """`datetime` whose `now()` is always NOW."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> FrozenDatetime:
        return cls.fromtimestamp(NOW.timestamp(), tz)


def console_modules() -> list[types.ModuleType]:
    """Every console module (imported), for patching their `datetime`."""
    import importlib
    import pkgutil

    import nomadtui.tui

    found = []
    for info in pkgutil.walk_packages(nomadtui.tui.__path__, "nomadtui.tui."):
        found.append(importlib.import_module(info.name))
    return found


@contextlib.contextmanager
def frozen_clock() -> Iterator[None]:
    """`datetime.now()` is NOW in every console module, and the zone is UTC."""
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    patches = [
        mock.patch.object(module, "datetime", FrozenDatetime)
        for module in console_modules()
        if getattr(module, "datetime", None) is datetime
    ]
    try:
        with contextlib.ExitStack() as stack:
            for p in patches:
                stack.enter_context(p)
            yield
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


# -- the views -------------------------------------------------------------------------

Ready = Callable[[Any, FakeCluster], bool]


@dataclass(frozen=True)
class View:
    """How to open one view on a fresh console, and when it shows its data."""

    name: str
    open: Callable[[Any, Pilot[None]], Awaitable[None]]
    ready: Ready
    title: str


def _rows(app: Any, selector: str = "#table") -> int:
    from nomadtui.tui.widgets.resource_table import ResourceTable

    tables = app.screen.query(selector).results(ResourceTable)
    return sum(t.row_count for t in tables)


def _screen_is(app: Any, name: str) -> bool:
    return type(app.screen).__name__ == name


def _mode(mode: str) -> Callable[[Any, Pilot[None]], Awaitable[None]]:
    async def go(app: Any, pilot: Pilot[None]) -> None:
        if app.current_mode != mode:
            await app.switch_mode(mode)

    return go


def _drill(method: str, *args: str) -> Callable[[Any, Pilot[None]], Awaitable[None]]:
    async def go(app: Any, pilot: Pilot[None]) -> None:
        getattr(app, method)(*args)
        await pilot.pause()

    return go


def _job_tab(tab: str) -> Callable[[Any, Pilot[None]], Awaitable[None]]:
    async def go(app: Any, pilot: Pilot[None]) -> None:
        app.open_job("web")
        await pilot.pause()
        if tab != "overview":
            app.screen.action_tab(tab)
            await pilot.pause()

    return go


def _job_ready(tab: str) -> Ready:
    def ready(app: Any, cluster: FakeCluster) -> bool:
        s = app.screen
        return (
            _screen_is(app, "JobScreen")
            and s.job is not None and s.summary is not None and s.deployment is not None
            and len(s.allocs) == 5 and len(s.evals) == 2 and s.versions is not None
            and bool(s.source) and s.active_tab == tab
            and _rows(app, "#version-table") == 3
        )

    return ready


async def _help(app: Any, pilot: Pilot[None]) -> None:
    await _until(pilot, lambda: _rows(app) == len(JOBS))
    await pilot.press("question_mark")


async def _plan(app: Any, pilot: Pilot[None]) -> None:
    app.open_plan(path=PLAN_FILE)
    await pilot.pause()


def _node_usage_drawn(app: Any) -> bool:
    usage = getattr(app.screen, "_usage", None)
    return bool(usage is not None and usage.by_node)


VIEWS: dict[str, View] = {
    v.name: v
    for v in [
        View("jobs", _mode("jobs"), lambda a, c: _rows(a) == len(JOBS), "Jobs"),
        *(
            View(f"job-{tab}", _job_tab(tab), _job_ready(tab), f"Job: {tab}")
            for tab in ("overview", "allocs", "evals", "versions", "spec")
        ),
        View("allocs", _mode("allocs"), lambda a, c: _rows(a) == len(ALLOCS), "Allocations"),
        View("alloc", _drill("open_alloc", CANARY_ALLOC),
             lambda a, c: _screen_is(a, "AllocScreen") and _rows(a, "#events") > 0,
             "Allocation"),
        View("logs", _drill("open_logs", CANARY_ALLOC, LOG_TASK),
             lambda a, c: _screen_is(a, "LogsScreen") and a.screen.connection == "streaming"
             and a.screen.view.line_count >= len(LOG_LINES["stdout"]), "Logs"),
        View("nodes", _mode("nodes"),
             lambda a, c: _rows(a) == len(NODES) and _node_usage_drawn(a), "Nodes"),
        View("node", _drill("open_node", NODE2),
             lambda a, c: _screen_is(a, "NodeScreen") and a.screen.node is not None
             and len(a.screen.allocs) > 0, "Node"),
        View("servers", _mode("servers"), lambda a, c: _rows(a) == 3, "Servers"),
        View("deployments", _mode("deploy"), lambda a, c: _rows(a) == len(DEPLOYMENTS),
             "Deployments"),
        View("deployment", _drill("open_deployment", DEP_CANARY),
             lambda a, c: _screen_is(a, "DeploymentScreen") and a.screen.dep is not None
             and _rows(a, "#allocs") == 1, "Deployment"),
        View("evals", _mode("evals"), lambda a, c: _rows(a) == len(EVALS), "Evaluations"),
        View("eval", _drill("open_eval", EVAL_FAILED),
             lambda a, c: _screen_is(a, "EvalScreen") and a.screen.ev is not None
             and c.held(f"/v1/evaluation/{EVAL_FAILED}/allocations"), "Evaluation"),
        View("services", _mode("services"),
             lambda a, c: _rows(a) == len(service_listing()[0]["Services"]), "Services"),
        View("service", _drill("open_service", "web"),
             lambda a, c: _screen_is(a, "ServiceScreen") and _rows(a, "#instances") == 4
             and c.held("/v1/service/web"), "Service"),
        View("events", _mode("events"),
             lambda a, c: _rows(a) == len(EVENTS) and a.screen.status == "live", "Events"),
        View("plan", _plan,
             lambda a, c: _screen_is(a, "PlanScreen") and a.screen.plan is not None
             and not a.screen.busy, "Plan preview"),
        View("help", _help, lambda a, c: _screen_is(a, "HelpScreen"), "Help"),
    ]
}


async def _until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("the view did not show its data in time")
        await pilot.pause(0.02)


async def show_view(app: Any, pilot: Pilot[None], cluster: FakeCluster, view: View) -> str:
    """Open `view`, wait until it has drawn its data and the picture holds still;
    return the SVG screenshot."""
    await view.open(app, pilot)
    await _until(pilot, lambda: view.ready(app, cluster) and _footer_drawn(app))
    # the same picture three times in a row, 50 ms apart: nothing is still on its way
    shots: list[str] = []
    for _ in range(100):
        await pilot.pause(0.05)
        shots = [*shots[-2:], app.export_screenshot(title=f"nomadtui — {view.title}")]
        if len(shots) == 3 and len(set(shots)) == 1 and _footer_drawn(app):
            return shots[0]
    raise AssertionError(f"view {view.name} kept changing")


def _footer_drawn(app: Any) -> bool:
    """The footer has its keys (it draws them a refresh after the screen's bindings settle)."""
    from textual.widgets import Footer

    return all(footer.children for footer in app.screen.query(Footer))


def screen_text(app: Any) -> str:
    """The screen as plain text (what export_screenshot draws, without colours)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      color_system=None, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


@contextlib.asynccontextmanager
async def fake_console(
    size: tuple[int, int],
) -> AsyncIterator[tuple[Any, Pilot[None], FakeCluster]]:
    """A ConsoleApp on a fresh FakeCluster, clock frozen, running headless at `size`."""
    from nomadtui.tui.app import ConsoleApp

    cluster = FakeCluster()
    client = cluster.client()
    try:
        with frozen_clock(), patched_streams(cluster), contextlib.chdir(FIXTURES):
            app = ConsoleApp(client)
            app.animation_level = "none"  # tab underlines etc. land at once
            async with app.run_test(size=size) as pilot:
                yield app, pilot, cluster
    finally:
        cluster.close()
        client.close()
