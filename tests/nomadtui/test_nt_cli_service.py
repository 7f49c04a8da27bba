"""`service list|info|delete` against the fake server: exact output (Nomad's
columns plus our Health), prefix resolution, JSON, and one-line errors."""

from __future__ import annotations

import json

from nt_fake import FakeNomad, Reply, run_cli

A1 = "5f0730ca-b055-52ac-f56e-358f3f7412f6"
A2 = "a831f7f2-4c01-39dc-c742-f2b8ca178a49"
NODE = "7406e90b-de16-d118-80fe-60d0f2730cb3"

LISTING = [
    {
        "Namespace": "default",
        "Services": [
            {"ServiceName": "web", "Tags": ["urlprefix-/", "blue"]},
            {"ServiceName": "cache-redis", "Tags": ["db", "cache"]},
        ],
    }
]


def _reg(alloc: str, port: int, job: str = "example", health: str = "") -> dict[str, object]:
    return {
        "ID": f"_nomad-task-{alloc}-redis-cache-redis-db",
        "ServiceName": "cache-redis",
        "Namespace": "default",
        "NodeID": NODE,
        "Datacenter": "dc1",
        "JobID": job,
        "AllocID": alloc,
        "Tags": ["db", "cache"],
        "Address": "127.0.0.1",
        "Port": port,
        "Health": health,
        "Checks": [{"Name": "alive", "Status": health, "Output": "", "Timestamp": 0}]
        if health
        else [],
        "CreateIndex": 10,
        "ModifyIndex": 12,
    }


def _fake(regs: list[dict[str, object]]) -> FakeNomad:
    fake = FakeNomad()
    fake.route("GET", "/v1/services", Reply(body=LISTING, index=12))
    fake.route("GET", "/v1/service/cache-redis", Reply(body=regs, index=12))
    return fake


def test_service_list_sorted_names_and_sorted_tags() -> None:
    res = run_cli(["service", "list"], _fake([]))
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "Service Name  Tags\ncache-redis   [cache,db]\nweb           [blue,urlprefix-/]\n"
    )


def test_service_list_all_namespaces_adds_the_column_and_sends_the_wildcard() -> None:
    fake = _fake([])
    res = run_cli(["service", "list", "-namespace", "*"], fake)
    assert res.out.splitlines()[0] == "Service Name  Namespace  Tags"
    assert res.out.splitlines()[1] == "cache-redis   default    [cache,db]"
    assert fake.requests_to("GET", "/v1/services")[0].url.params["namespace"] == "*"


def test_service_list_empty_and_json() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/services", [])
    assert run_cli(["service", "list"], fake).out == "No service registrations found\n"
    res = run_cli(["service", "list", "-json"], _fake([]))
    assert json.loads(res.out) == LISTING


def test_service_info_table_by_job_with_health_column() -> None:
    regs = [_reg(A2, 25854, job="zeta", health="critical"), _reg(A1, 22686, health="passing")]
    res = run_cli(["service", "info", "cache-redis"], _fake(regs))
    assert (res.code, res.err) == (0, "")
    assert res.out == (
        "Job ID   Address          Tags        Node ID   Alloc ID  Health\n"
        "example  127.0.0.1:22686  [db,cache]  7406e90b  5f0730ca  passing\n"
        "zeta     127.0.0.1:25854  [db,cache]  7406e90b  a831f7f2  critical\n"
    )


def test_service_info_resolves_a_unique_prefix() -> None:
    fake = _fake([_reg(A1, 22686)])
    res = run_cli(["service", "info", "cache"], fake)
    assert res.code == 0
    assert "(no checks)" in res.out
    assert len(fake.requests_to("GET", "/v1/service/cache-redis")) == 1


def test_service_info_ambiguous_prefix_is_an_error_listing_the_matches() -> None:
    fake = FakeNomad()
    listing = [
        {
            "Namespace": "default",
            "Services": [
                {"ServiceName": "web-a", "Tags": []},
                {"ServiceName": "web-b", "Tags": []},
                {"ServiceName": "db", "Tags": []},
            ],
        }
    ]
    fake.route("GET", "/v1/services", listing)
    res = run_cli(["service", "info", "web"], fake)
    assert res.code == 1
    assert res.err == (
        "Prefix matched multiple services\n\n"
        "Service Name  Tags\n"
        "web-a         []\n"
        "web-b         []\n"
    )


def test_service_info_verbose_and_unknown_service() -> None:
    res = run_cli(
        ["service", "info", "-verbose", "cache-redis"], _fake([_reg(A1, 22686, health="passing")])
    )
    assert res.out == (
        f"ID           = _nomad-task-{A1}-redis-cache-redis-db\n"
        "Service Name = cache-redis\n"
        "Namespace    = default\n"
        "Job ID       = example\n"
        f"Alloc ID     = {A1}\n"
        f"Node ID      = {NODE}\n"
        "Datacenter   = dc1\n"
        "Address      = 127.0.0.1:22686\n"
        "Tags         = [db,cache]\n"
        "Health       = passing\n"
        "Checks       = alive: passing\n"
        "\n"
    )
    fake = FakeNomad()
    fake.route("GET", "/v1/services", [])
    fake.route("GET", "/v1/service/nope", [])
    res = run_cli(["service", "info", "nope"], fake)
    assert (res.code, res.out) == (0, "No service registrations found\n")


def test_service_info_json_prints_the_registrations() -> None:
    regs = [_reg(A1, 22686)]
    res = run_cli(["service", "info", "-json", "cache-redis"], _fake(regs))
    assert json.loads(res.out) == regs


def test_service_delete_sends_delete_and_reports_errors_in_one_line() -> None:
    fake = FakeNomad()
    path = "/v1/service/web/_nomad-task-x-t-web-http"
    fake.route("DELETE", path, Reply(body=None, index=20))
    res = run_cli(["service", "delete", "web", "_nomad-task-x-t-web-http"], fake)
    assert (res.code, res.out) == (0, "Successfully deleted service registration\n")
    assert len(fake.requests_to("DELETE", path)) == 1
    fake.route("DELETE", path, Reply(status=404, text="service registration not found"))
    res = run_cli(["service", "delete", "web", "_nomad-task-x-t-web-http"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == ("Error deleting service registration: service registration not found\n")
