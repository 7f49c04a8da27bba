"""Nomad-shaped JSON for the CLI tests (shapes from API.md §3, values from the seed)."""

from __future__ import annotations

from typing import Any

from nt_fake import NOW_NS, SEC, ago_ns

NODE_ID = "06484218-aaaa-bbbb-cccc-000000000001"
ALLOC_ID = "0f09c03d-1111-2222-3333-444444444444"
EVAL_ID = "5744eb15-9999-8888-7777-666666666666"
DEPLOY_ID = "3a364864-0000-1111-2222-333333333333"
SUBMIT_NS = 1592764587 * SEC  # 2020-06-21T18:36:27Z


def job(**over: Any) -> dict[str, Any]:
    base = {
        "ID": "example",
        "Name": "example",
        "Namespace": "default",
        "Region": "global",
        "Type": "service",
        "Priority": 50,
        "Datacenters": ["dc1"],
        "NodePool": "default",
        "Status": "running",
        "Stop": False,
        "Periodic": None,
        "ParameterizedJob": None,
        "Dispatched": False,
        "SubmitTime": SUBMIT_NS,
        "Version": 0,
        "TaskGroups": [
            {
                "Name": "cache",
                "Count": 1,
                "Tasks": [{"Name": "redis"}],
                "ReschedulePolicy": {"Attempts": 0},
            }
        ],
        "CreateIndex": 8,
        "ModifyIndex": 10,
        "JobModifyIndex": 8,
    }
    base.update(over)
    return base


def job_stub(**over: Any) -> dict[str, Any]:
    base = {
        "ID": "example",
        "ParentID": "",
        "Name": "example",
        "Namespace": "default",
        "Datacenters": ["dc1"],
        "NodePool": "default",
        "Type": "service",
        "Priority": 50,
        "Periodic": False,
        "ParameterizedJob": False,
        "Stop": False,
        "Status": "running",
        "StatusDescription": "",
        "SubmitTime": SUBMIT_NS,
        "CreateIndex": 8,
        "ModifyIndex": 10,
        "JobModifyIndex": 8,
    }
    base.update(over)
    return base


def summary() -> dict[str, Any]:
    return {
        "JobID": "example",
        "Namespace": "default",
        "Summary": {
            "cache": {
                "Queued": 0,
                "Complete": 0,
                "Failed": 0,
                "Running": 1,
                "Starting": 0,
                "Lost": 0,
                "Unknown": 0,
            }
        },
        "Children": {"Pending": 0, "Running": 0, "Dead": 0},
    }


def alloc_stub(**over: Any) -> dict[str, Any]:
    base = {
        "ID": ALLOC_ID,
        "EvalID": EVAL_ID,
        "Name": "example.cache[0]",
        "Namespace": "default",
        "NodeID": NODE_ID,
        "NodeName": "chuso-TM1703",
        "JobID": "example",
        "JobType": "service",
        "JobVersion": 0,
        "TaskGroup": "cache",
        "DesiredStatus": "run",
        "ClientStatus": "running",
        "ClientDescription": "Tasks are running",
        "CreateIndex": 11,
        "ModifyIndex": 14,
        "CreateTime": ago_ns(208),
        "ModifyTime": ago_ns(190),
    }
    base.update(over)
    return base


def deployment(**over: Any) -> dict[str, Any]:
    base = {
        "ID": DEPLOY_ID,
        "Namespace": "default",
        "JobID": "example",
        "JobVersion": 0,
        "CreateIndex": 21,
        "ModifyIndex": 30,
        "Status": "successful",
        "StatusDescription": "Deployment completed successfully",
        "TaskGroups": {
            "cache": {
                "AutoRevert": False,
                "Promoted": False,
                "DesiredCanaries": 0,
                "DesiredTotal": 1,
                "PlacedAllocs": 1,
                "HealthyAllocs": 1,
                "UnhealthyAllocs": 0,
                "ProgressDeadline": 600 * SEC,
                "RequireProgressBy": "2020-06-21T18:46:45.5Z",
            }
        },
    }
    base.update(over)
    return base


def deploy_group(**over: Any) -> dict[str, Any]:
    """One DeploymentState, by default the seed's single healthy `cache` alloc."""
    base = deployment()["TaskGroups"]["cache"]
    base.update(over)
    return dict(base)


def failed_metric() -> dict[str, Any]:
    return {
        "NodesEvaluated": 1,
        "NodesFiltered": 0,
        "NodesAvailable": {"dc1": 1},
        "NodesExhausted": 1,
        "DimensionExhausted": {"memory": 1},
        "CoalescedFailures": 2,
    }


def node_stub(**over: Any) -> dict[str, Any]:
    base = {
        "Address": "127.0.0.1",
        "ID": "97c95ca0-1111-2222-3333-444444444444",
        "Datacenter": "dc1",
        "Name": "chuso-TM1703",
        "NodeClass": "",
        "NodePool": "default",
        "Version": "0.1.0",
        "Drain": False,
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusDescription": "",
        "CreateIndex": 3,
        "ModifyIndex": 5,
    }
    base.update(over)
    return base


def full_alloc() -> dict[str, Any]:
    alloc = alloc_stub()
    alloc.pop("JobVersion")
    alloc.update(
        {
            "Job": job(Version=0),
            "DesiredDescription": "",
            "DeploymentID": DEPLOY_ID,
            "DeploymentStatus": {"Healthy": True, "Canary": False},
            "AllocatedResources": {
                "Tasks": {"redis": {"Cpu": {"CpuShares": 500}, "Memory": {"MemoryMB": 256}}},
                "Shared": {
                    "DiskMB": 300,
                    "Ports": [
                        {"Label": "db", "Value": 27908, "To": 6379, "HostIP": "127.0.0.1"},
                    ],
                },
            },
            "TaskStates": {
                "redis": {
                    "State": "running",
                    "Failed": False,
                    "Restarts": 0,
                    "LastRestart": None,
                    "StartedAt": "2020-06-21T18:36:45.123456789Z",
                    "FinishedAt": None,
                    "Events": [
                        {
                            "Type": "Received",
                            "Time": NOW_NS - 215 * SEC,
                            "DisplayMessage": "Task received by client",
                        },
                        {
                            "Type": "Driver",
                            "Time": NOW_NS - 214 * SEC,
                            "DriverMessage": "Downloading image",
                        },
                        {"Type": "Started", "Time": NOW_NS - 195 * SEC},
                    ],
                }
            },
        }
    )
    return alloc
