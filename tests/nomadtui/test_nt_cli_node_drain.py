"""`node drain` and `node eligibility`: flags, request bodies, prompts and
the drain monitor's Nomad-style messages."""

from __future__ import annotations

import json
from typing import Any

import nt_data as d
from nt_fake import FakeNomad, Reply, Seq, run_cli

NODE_ID = d.node_stub()["ID"]
STRATEGY = {"Deadline": 1800 * 10**9, "ForceDeadline": "2020-06-21T19:10:00Z"}


def _fake(node: Any = None, allocs: Any = None) -> FakeNomad:
    fake = FakeNomad()
    fake.route("GET", "/v1/nodes", [d.node_stub()])
    fake.route("GET", f"/v1/node/{NODE_ID}", node if node is not None else d.node_stub())
    fake.route("GET", f"/v1/node/{NODE_ID}/allocations", allocs if allocs is not None else [])
    fake.route("PUT", f"/v1/node/{NODE_ID}/drain", {"Index": 40, "NodeModifyIndex": 40})
    fake.route("PUT", f"/v1/node/{NODE_ID}/eligibility", {"Index": 41})
    return fake


def _drain_body(fake: FakeNomad) -> dict[str, Any]:
    (req,) = fake.requests_to("PUT", f"/v1/node/{NODE_ID}/drain")
    body: dict[str, Any] = json.loads(req.content)
    return body


def _alloc(alloc_id: str, client: str, desired: str = "run", migrate: bool = False) -> dict:
    return {
        "ID": alloc_id,
        "Job": {"Type": "service"},
        "ClientStatus": client,
        "DesiredStatus": desired,
        "DesiredTransition": {"Migrate": True} if migrate else {},
    }


def test_enable_monitors_until_the_drain_completes_and_allocs_stop() -> None:
    draining = {**d.node_stub(Drain=True), "DrainStrategy": STRATEGY}
    done = {**d.node_stub(SchedulingEligibility="ineligible"), "DrainStrategy": None}
    fake = _fake(
        # the first read resolves the node; the monitor reads it once per round
        node=Seq(*[Reply(body=draining, index=41)] * 4, done),
        allocs=Seq(
            Reply(body=[_alloc("a1", "running")], index=40),
            Reply(body=[_alloc("a1", "running", migrate=True)], index=42),
            Reply(body=[_alloc("a1", "running", "stop", migrate=True)], index=43),
            Reply(body=[_alloc("a1", "complete", "stop", migrate=True)], index=44),
        ),
    )
    res = run_cli(
        ["node", "drain", "-enable", "-deadline", "30m", "-ignore-system", "-yes", "97c9"], fake
    )
    assert res.code == 0, res.err
    assert _drain_body(fake) == {
        "DrainSpec": {"Deadline": 1800 * 10**9, "IgnoreSystemJobs": True},
        "MarkEligible": True,
        "Meta": None,
        "NodeID": NODE_ID,
    }
    stamp = "2020-06-21T18:40:00Z: "
    assert res.out.splitlines() == [
        stamp + "Ctrl-C to stop monitoring: will not cancel the node drain",
        stamp + f'Node "{NODE_ID}" drain strategy set',
        stamp + 'Alloc "a1" marked for migration',
        stamp + 'Alloc "a1" draining',
        stamp + f'Node "{NODE_ID}" has marked all allocations for migration',
        stamp + 'Alloc "a1" status running -> complete',
        stamp + f'All allocations on node "{NODE_ID}" have stopped.',
    ]
    # blocking queries, from the index of the drain write on
    first_node_read = fake.requests_to("GET", f"/v1/node/{NODE_ID}")[1]
    assert first_node_read.url.params["index"] == "40"
    assert first_node_read.url.params["wait"] == "1000ms"


def test_detach_sets_the_strategy_and_returns() -> None:
    fake = _fake()
    res = run_cli(["node", "drain", "-enable", "-detach", NODE_ID], fake)
    assert res.code == 0, res.err
    assert res.out == f'Node "{NODE_ID}" drain strategy set\n'
    assert _drain_body(fake)["DrainSpec"] == {"Deadline": 3600 * 10**9, "IgnoreSystemJobs": False}


def test_force_and_no_deadline() -> None:
    for flag, deadline in (("-force", -(10**9)), ("-no-deadline", 0)):
        fake = _fake()
        assert run_cli(["node", "drain", "-enable", flag, "-detach", NODE_ID], fake).code == 0
        assert _drain_body(fake)["DrainSpec"]["Deadline"] == deadline


def test_disable_unsets_and_marks_eligible_unless_told_to_keep_ineligible() -> None:
    fake = _fake()
    res = run_cli(["node", "drain", "-disable", "-m", "done here", NODE_ID], fake)
    assert res.code == 0, res.err
    assert res.out == f'Node "{NODE_ID}" drain strategy unset\n'
    body = _drain_body(fake)
    assert (body["DrainSpec"], body["MarkEligible"]) == (None, True)
    assert body["Meta"] == {"cancel_message": "done here"}

    fake = _fake()
    assert run_cli(["node", "drain", "-disable", "-keep-ineligible", NODE_ID], fake).code == 0
    assert _drain_body(fake)["MarkEligible"] is False


def test_a_prefix_asks_for_confirmation() -> None:
    fake = _fake()
    res = run_cli(["node", "drain", "-enable", "97c9"], fake, stdin="n\n")
    assert res.code == 0
    assert res.out == (
        f'Are you sure you want to enable drain mode for node "{NODE_ID}"? [y/N] '
        "Canceling drain toggle\n"
    )
    assert fake.requests_to("PUT", f"/v1/node/{NODE_ID}/drain") == []

    res = run_cli(["node", "drain", "-disable", "97c9"], fake, stdin="y\n")
    assert res.code == 0
    assert res.out.endswith(f'Node "{NODE_ID}" drain strategy unset\n')


def test_flag_errors() -> None:
    cases = [
        (["-detach"], "Error: Either the '-enable' or '-disable' flag must be set"),
        (["-enable", "-disable"], "Error: Either the '-enable' or '-disable' flag must be set"),
        (["-enable", "-deadline", "1h", "-force"], "Error: -deadline can't be combined"),
        (["-disable", "-deadline", "1h"], "Error: -disable can't be combined"),
        (["-enable", "-deadline=0s"], "Error: A positive drain duration must be given"),
        (["-enable", "-deadline", "soon"], 'Error: Failed to parse deadline "soon"'),
        (["-enable"], "Error: Node ID must be specified if -self isn't being used"),
    ]
    for flags, error in cases:
        fake = _fake()
        argv = ["node", "drain", *flags] + ([] if flags == ["-enable"] else [NODE_ID])
        res = run_cli(argv, fake)
        assert res.code == 1, (flags, res.out)
        assert res.err.startswith(error), (flags, res.err)
        assert fake.requests_to("PUT", f"/v1/node/{NODE_ID}/drain") == []


def test_monitor_without_a_drain() -> None:
    res = run_cli(["node", "drain", "-monitor", NODE_ID], _fake())
    assert (res.code, res.out) == (0, "No drain strategy set\n")


def test_eligibility_enable_and_disable() -> None:
    for flag, value in (("-enable", "eligible"), ("-disable", "ineligible")):
        fake = _fake()
        res = run_cli(["node", "eligibility", flag, "97c9"], fake)
        assert res.code == 0, res.err
        assert res.out == f'Node "{NODE_ID}" scheduling eligibility set: {value} for scheduling\n'
        (req,) = fake.requests_to("PUT", f"/v1/node/{NODE_ID}/eligibility")
        assert json.loads(req.content) == {"NodeID": NODE_ID, "Eligibility": value}


def test_eligibility_needs_one_flag_and_reports_server_errors() -> None:
    res = run_cli(["node", "eligibility", NODE_ID], _fake())
    assert (res.code, res.err) == (
        1,
        "Error: Either the '-enable' or '-disable' flag must be set\n",
    )
    fake = _fake()
    fake.route(
        "PUT",
        f"/v1/node/{NODE_ID}/eligibility",
        Reply(
            status=400,
            text="can not set node's scheduling eligibility to eligible while it is draining",
        ),
    )
    res = run_cli(["node", "eligibility", "-enable", NODE_ID], fake)
    assert res.code == 1
    assert res.err == (
        "Error updating scheduling eligibility: can not set node's scheduling "
        "eligibility to eligible while it is draining\n"
    )


def test_self_uses_the_local_agents_node() -> None:
    fake = _fake()
    fake.route("GET", "/v1/agent/self", {"stats": {"client": {"node_id": NODE_ID}}})
    res = run_cli(["node", "eligibility", "-disable", "-self"], fake)
    assert res.code == 0, res.err
    assert fake.requests_to("PUT", f"/v1/node/{NODE_ID}/eligibility")
