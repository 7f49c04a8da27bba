"""`node status` and `server members` layouts."""

from __future__ import annotations

import nt_data as d
from nt_fake import FakeNomad, run_cli


def test_node_list_layout() -> None:
    fake = FakeNomad()
    fake.route(
        "GET",
        "/v1/nodes",
        [
            d.node_stub(),
            d.node_stub(
                ID="a1b2c3d4-0000-0000-0000-000000000000",
                Name="n2",
                NodeClass="gpu",
                Drain=True,
                SchedulingEligibility="ineligible",
                Status="down",
            ),
        ],
    )
    res = run_cli(["node", "status"], fake)
    assert res.code == 0, res.err
    assert res.out == (
        "ID        Node Pool  DC   Name          Class   Drain  Eligibility  Status\n"
        "97c95ca0  default    dc1  chuso-TM1703  <none>  false  eligible     ready\n"
        "a1b2c3d4  default    dc1  n2            gpu     true   ineligible   down\n"
    )


def test_node_list_verbose_adds_address_and_version_and_full_ids() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/nodes", [d.node_stub()])
    lines = run_cli(["node", "status", "-verbose"], fake).out.splitlines()
    assert lines[0].split() == [
        "ID",
        "Node",
        "Pool",
        "DC",
        "Name",
        "Class",
        "Address",
        "Version",
        "Drain",
        "Eligibility",
        "Status",
    ]
    assert lines[1].startswith("97c95ca0-1111-2222-3333-444444444444  default")


def test_no_nodes() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/nodes", [])
    assert run_cli(["node", "status"], fake).out == "No nodes registered\n"


def test_single_node_detail() -> None:
    fake = FakeNomad()
    stub = d.node_stub()
    node_id = stub["ID"]
    fake.route("GET", "/v1/nodes", [stub])
    fake.route(
        "GET",
        f"/v1/node/{node_id}",
        {
            **stub,
            "Drivers": {
                "docker": {"Detected": True, "Healthy": True},
                "exec": {"Detected": True, "Healthy": False},
                "java": {"Detected": False, "Healthy": False},
            },
            "NodeResources": {
                "Cpu": {"CpuShares": 2600},
                "Memory": {"MemoryMB": 2048},
                "Disk": {"DiskMB": 16384},
            },
            "ReservedResources": {
                "Cpu": {"CpuShares": 0},
                "Memory": {"MemoryMB": 0},
                "Disk": {"DiskMB": 0},
            },
            "Events": [
                {
                    "Message": "Node registered",
                    "Subsystem": "Cluster",
                    "Timestamp": "2020-06-21T18:30:00Z",
                    "CreateIndex": 3,
                }
            ],
        },
    )
    alloc = d.full_alloc()
    alloc["JobVersion"] = 0
    fake.route("GET", f"/v1/node/{node_id}/allocations", [alloc])
    res = run_cli(["node", "status", "97c9"], fake)
    assert res.code == 0, res.err
    assert fake.requests_to("GET", "/v1/nodes")[0].url.params["prefix"] == "97c9"
    head, rest = res.out.split("\n\nNode Events\n", 1)
    assert head.splitlines()[:8] == [
        "ID              = 97c95ca0",
        "Name            = chuso-TM1703",
        "Node Pool       = default",
        "Class           = <none>",
        "DC              = dc1",
        "Drain           = false",
        "Eligibility     = eligible",
        "Status          = ready",
    ]
    assert head.splitlines()[-1] == "Driver Status   = docker,exec (unhealthy)"
    assert rest == (
        "Time                  Subsystem  Message\n"
        "2020-06-21T18:30:00Z  Cluster    Node registered\n"
        "\n"
        "Allocated Resources\n"
        "CPU           Memory           Disk            Alloc Count\n"
        "500/2600 MHz  256 MiB/2.0 GiB  300 MiB/16 GiB  1\n"
        "\n"
        "Allocations\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created    Modified\n"
        "0f09c03d  06484218  cache       0        run      running  3m28s ago  3m10s ago\n"
    )


def _members() -> dict[str, object]:
    def member(name: str, addr: str, rpc: str) -> dict[str, object]:
        return {
            "Name": name,
            "Addr": addr,
            "Port": 4648,
            "Status": "alive",
            "ProtocolMin": 1,
            "ProtocolMax": 5,
            "ProtocolCur": 2,
            "Tags": {
                "role": "nomad",
                "region": "global",
                "dc": "dc1",
                "build": "0.1.0",
                "port": rpc,
                "raft_vsn": "3",
            },
        }

    return {
        "ServerName": "s2",
        "ServerRegion": "global",
        "ServerDC": "dc1",
        "Members": [
            member("s2.global", "10.0.0.2", "4647"),
            member("s1.global", "10.0.0.1", "4647"),
        ],
    }


def test_server_members_marks_the_leader_from_status_leader() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/agent/members", _members())
    fake.route("GET", "/v1/status/leader", "10.0.0.2:4647")
    res = run_cli(["server", "members"], fake)
    assert res.code == 0, res.err
    assert res.out == (
        "Name       Address   Port  Status  Leader  Raft Version  Build  Datacenter  Region\n"
        "s1.global  10.0.0.1  4648  alive   false   3             0.1.0  dc1         global\n"
        "s2.global  10.0.0.2  4648  alive   true    3             0.1.0  dc1         global\n"
    )
    assert fake.requests_to("GET", "/v1/status/leader")[0].url.params["region"] == "global"


def test_server_members_leader_must_match_the_rpc_port_tag() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/agent/members", _members())
    fake.route("GET", "/v1/status/leader", "10.0.0.2:4648")  # serf port: not the leader address
    out = run_cli(["server", "members"], fake).out
    assert " true " not in out


def test_server_members_verbose_adds_protocol_and_tags() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/agent/members", _members())
    fake.route("GET", "/v1/status/leader", "")
    lines = run_cli(["server", "members", "-verbose"], fake).out.splitlines()
    assert lines[0].split()[:6] == ["Name", "Address", "Port", "Status", "Leader", "Protocol"]
    assert lines[0].endswith("Tags")
    assert lines[1].endswith("build=0.1.0,dc=dc1,port=4647,raft_vsn=3,region=global,role=nomad")
