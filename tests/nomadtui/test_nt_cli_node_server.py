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


def _node_detail(stub: dict[str, object]) -> dict[str, object]:
    return {
        **stub,
        "Attributes": {"unique.storage.volume": "/dev/vda", "driver.docker": "1"},
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
    }


HOST_STATS = {
    "Memory": {"Total": 8 << 30, "Available": 6 << 30, "Used": 1536 << 20, "Free": 5 << 30},
    "CPU": [
        {"CPU": "cpu0", "User": 12.5, "System": 2.25, "Idle": 85.25, "Total": 14.75},
        {"CPU": "cpu1", "User": 1.0, "System": 0.5, "Idle": 98.5, "Total": 1.5},
    ],
    "DiskStats": [
        {
            "Device": "/dev/vda",
            "Mountpoint": "/",
            "Size": 100 << 30,
            "Used": 40 << 30,
            "Available": 60 << 30,
            "UsedPercent": 40.0,
            "InodesUsedPercent": 2.5,
        }
    ],
    "Uptime": 8398,
    "CPUTicksConsumed": 421.9,
}

ALLOC_STATS = {
    "ResourceUsage": {
        "MemoryStats": {"RSS": 12 << 20, "Usage": 0},
        "CpuStats": {"TotalTicks": 75.6, "Percent": 2.9},
    },
    "Tasks": {},
}


def _detail_fake(host: object = HOST_STATS, alloc_stats: object = ALLOC_STATS) -> FakeNomad:
    fake = FakeNomad()
    stub = d.node_stub()
    node_id = stub["ID"]
    fake.route("GET", "/v1/nodes", [stub])
    fake.route("GET", f"/v1/node/{node_id}", _node_detail(stub))
    alloc = d.full_alloc()
    alloc["JobVersion"] = 0
    fake.route("GET", f"/v1/node/{node_id}/allocations", [alloc])
    fake.route("GET", "/v1/client/stats", host)
    fake.route("GET", f"/v1/client/allocation/{alloc['ID']}/stats", alloc_stats)
    return fake


def test_single_node_detail() -> None:
    fake = _detail_fake()
    res = run_cli(["node", "status", "97c9"], fake)
    assert res.code == 0, res.err
    assert fake.requests_to("GET", "/v1/nodes")[0].url.params["prefix"] == "97c9"
    stats_call = fake.requests_to("GET", "/v1/client/stats")[0]
    assert stats_call.url.params["node_id"] == d.node_stub()["ID"]
    head, rest = res.out.split("\n\nNode Events\n", 1)
    assert head.splitlines() == [
        "ID              = 97c95ca0",
        "Name            = chuso-TM1703",
        "Node Pool       = default",
        "Class           = <none>",
        "DC              = dc1",
        "Drain           = false",
        "Eligibility     = eligible",
        "Status          = ready",
        "CSI Controllers = <none>",
        "CSI Drivers     = <none>",
        "Uptime          = 2h19m58s",
        "Host Volumes    = <none>",
        "Host Networks   = <none>",
        "CSI Volumes     = <none>",
        "Driver Status   = docker,exec (unhealthy)",
    ]
    assert rest == (
        "Time                  Subsystem  Message\n"
        "2020-06-21T18:30:00Z  Cluster    Node registered\n"
        "\n"
        "Allocated Resources\n"
        "CPU           Memory           Disk\n"
        "500/2600 MHz  256 MiB/2.0 GiB  300 MiB/16 GiB\n"
        "\n"
        "Allocation Resource Utilization\n"
        "CPU          Memory\n"
        "75/2600 MHz  12 MiB/2.0 GiB\n"
        "\n"
        "Host Resource Utilization\n"
        "CPU           Memory           Disk\n"
        "421/2600 MHz  1.5 GiB/8.0 GiB  40 GiB/100 GiB\n"
        "\n"
        "Allocations\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created    Modified\n"
        "0f09c03d  06484218  cache       0        run      running  3m28s ago  3m10s ago\n"
    )


def test_node_detail_without_a_reachable_client_drops_the_measured_sections() -> None:
    from nt_fake import Reply

    down = Reply(status=500, text="client agent of node 97c95ca0 unreachable")
    res = run_cli(["node", "status", "97c9"], _detail_fake(host=down, alloc_stats=down))
    assert res.code == 0, res.err
    assert "Uptime" not in res.out
    assert "\nAllocated Resources\n" in res.out
    assert "Resource Utilization" not in res.out
    assert res.err.splitlines() == [
        "Error: error fetching node stats: client agent of node 97c95ca0 unreachable",
        "Error: error fetching node stats: actual resource usage not present",
    ]


def test_node_detail_stats_flag_adds_cpu_memory_and_disk() -> None:
    res = run_cli(["node", "status", "-stats", "97c9"], _detail_fake())
    assert res.code == 0, res.err
    stats = res.out.split("\n\nCPU Stats\n", 1)[1].split("\n\nAllocations\n", 1)[0]
    assert stats == (
        "CPU    = cpu0\n"
        "User   = 12.50%\n"
        "System = 2.25%\n"
        "Idle   = 85.25%\n"
        "\n"
        "CPU    = cpu1\n"
        "User   = 1.00%\n"
        "System = 0.50%\n"
        "Idle   = 98.50%\n"
        "\n"
        "Memory Stats\n"
        "Total     = 8.0 GiB\n"
        "Available = 6.0 GiB\n"
        "Used      = 1.5 GiB\n"
        "Free      = 5.0 GiB\n"
        "\n"
        "Disk Stats\n"
        "Device         = /dev/vda\n"
        "MountPoint     = /\n"
        "Size           = 100 GiB\n"
        "Used           = 40 GiB\n"
        "Available      = 60 GiB\n"
        "Used Percent   = 40.00%\n"
        "Inodes Percent = 2.50%"
    )


def test_node_detail_short_skips_stats_and_lists_drivers() -> None:
    fake = _detail_fake()
    res = run_cli(["node", "status", "-short", "97c9"], fake)
    assert res.code == 0, res.err
    assert "Drivers         = docker" in res.out.splitlines()
    assert "Node Events" not in res.out and "Allocated Resources" not in res.out
    assert fake.requests_to("GET", "/v1/client/stats") == []


def test_drain_line_shows_the_strategy() -> None:
    fake = _detail_fake()
    stub = d.node_stub(Drain=True)
    detail = _node_detail(stub)
    detail["DrainStrategy"] = {
        "Deadline": 3600 * 10**9,
        "ForceDeadline": "2020-06-21T19:40:00Z",
        "IgnoreSystemJobs": True,
    }
    fake.route("GET", f"/v1/node/{stub['ID']}", detail)
    out = run_cli(["node", "status", "97c9"], fake).out
    assert "Drain           = true; 2020-06-21T19:40:00Z deadline; ignoring system jobs" in out


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
