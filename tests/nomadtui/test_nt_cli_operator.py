"""`server join|force-leave`, `operator raft|snapshot`, `system gc` against the
fake server: the requests sent, the exact output and the one-line errors."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest
from nt_fake import FakeNomad, Reply, run_cli

from controlplane.errors import NomadError
from nomadtui.client import NomadClient

SNAP = b"\x1f\x8b\x08\x00snapshot-bytes\x00\xff"


def _digest(data: bytes) -> str:
    return "sha-256=" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def _snapshot_reply(data: bytes, digest: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if digest is not None:
        headers["Digest"] = digest
    return httpx.Response(200, content=data, headers=headers)


def _one(fake: FakeNomad, method: str, path: str) -> httpx.Request:
    reqs = fake.requests_to(method, path)
    assert len(reqs) == 1, [f"{r.method} {r.url}" for r in fake.calls]
    return reqs[0]


# -- server join / force-leave ---------------------------------------------------


def test_server_join_sends_each_address_and_reports_count() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/join", {"num_joined": 2, "error": ""})
    res = run_cli(["server", "join", "127.0.0.2:4647", "127.0.0.3:4647"], fake)
    assert (res.code, res.out, res.err) == (0, "Joined 2 servers successfully\n", "")
    req = _one(fake, "PUT", "/v1/agent/join")
    assert req.url.params.get_list("address") == ["127.0.0.2:4647", "127.0.0.3:4647"]


def test_server_join_error_text_from_the_agent() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/join", {"num_joined": 0, "error": "dial tcp: refused"})
    res = run_cli(["server", "join", "10.0.0.9:4647"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == "Error joining: failed joining: dial tcp: refused\n"


def test_server_join_http_error() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/join", Reply(status=400, text="missing address to join"))
    res = run_cli(["server", "join", "x:1"], fake)
    assert res.code == 1
    assert res.err == "Error joining: failed joining: missing address to join\n"


def test_server_join_needs_an_address() -> None:
    res = run_cli(["server", "join"], FakeNomad())
    assert res.code == 1
    assert res.err.startswith("Error: ") and res.err.count("\n") == 1


def test_server_force_leave_is_silent() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/force-leave", Reply(text=""))
    res = run_cli(["server", "force-leave", "s2.global"], fake)
    assert (res.code, res.out, res.err) == (0, "", "")
    req = _one(fake, "PUT", "/v1/agent/force-leave")
    assert dict(req.url.params) == {"node": "s2.global"}


@pytest.mark.parametrize("flag", ["-prune", "-prune=true", "--prune"])
def test_server_force_leave_prune(flag: str) -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/force-leave", Reply(text=""))
    res = run_cli(["server", "force-leave", flag, "s2.global"], fake)
    assert res.code == 0, res.err
    req = _one(fake, "PUT", "/v1/agent/force-leave")
    assert dict(req.url.params) == {"node": "s2.global", "prune": "true"}


def test_server_force_leave_error() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/force-leave", Reply(status=500, text="agent: no such member"))
    res = run_cli(["server", "force-leave", "ghost"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == "Error force-leaving server ghost: agent: no such member\n"


# -- operator raft -----------------------------------------------------------------


RAFT_CONFIG = {
    "Index": 12,
    "Servers": [
        {
            "ID": "127.0.0.3:4647",
            "Node": "s3.global",
            "Address": "127.0.0.3:4647",
            "Leader": False,
            "Voter": True,
            "RaftProtocol": "3",
        },
        {
            "ID": "127.0.0.1:4647",
            "Node": "s1.global",
            "Address": "127.0.0.1:4647",
            "Leader": True,
            "Voter": True,
            "RaftProtocol": 3,
        },
        {
            "ID": "127.0.0.2:4647",
            "Node": "s2.global",
            "Address": "127.0.0.2:4647",
            "Leader": False,
            "Voter": False,
            "RaftProtocol": "3",
        },
    ],
}


def test_raft_list_peers_table_sorted_by_node() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/raft/configuration", RAFT_CONFIG)
    res = run_cli(["operator", "raft", "list-peers"], fake)
    assert res.code == 0, res.err
    assert res.out == (
        "Node       ID              Address         State     Voter  RaftProtocol\n"
        "s1.global  127.0.0.1:4647  127.0.0.1:4647  leader    true   3\n"
        "s2.global  127.0.0.2:4647  127.0.0.2:4647  follower  false  3\n"
        "s3.global  127.0.0.3:4647  127.0.0.3:4647  follower  true   3\n"
    )
    assert "stale" not in _one(fake, "GET", "/v1/operator/raft/configuration").url.params


def test_raft_list_peers_stale() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/raft/configuration", RAFT_CONFIG)
    assert run_cli(["operator", "raft", "list-peers", "-stale"], fake).code == 0
    req = _one(fake, "GET", "/v1/operator/raft/configuration")
    assert req.url.params["stale"] == "true"


def test_raft_list_peers_error() -> None:
    fake = FakeNomad()
    fake.route(
        "GET", "/v1/operator/raft/configuration", Reply(status=503, text="No cluster leader")
    )
    res = run_cli(["operator", "raft", "list-peers"], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == "Failed to retrieve raft configuration: No cluster leader\n"


def test_raft_remove_peer_by_address() -> None:
    fake = FakeNomad()
    fake.route("DELETE", "/v1/operator/raft/peer", Reply(text=""))
    res = run_cli(["operator", "raft", "remove-peer", "-peer-address", "127.0.0.3:4647"], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == 'Removed peer with address "127.0.0.3:4647"\n'
    req = _one(fake, "DELETE", "/v1/operator/raft/peer")
    assert dict(req.url.params) == {"address": "127.0.0.3:4647"}


def test_raft_remove_peer_by_id() -> None:
    fake = FakeNomad()
    fake.route("DELETE", "/v1/operator/raft/peer", Reply(text=""))
    res = run_cli(["operator", "raft", "remove-peer", "-peer-id=abc-123"], fake)
    assert (res.code, res.out) == (0, 'Removed peer with id "abc-123"\n')
    req = _one(fake, "DELETE", "/v1/operator/raft/peer")
    assert dict(req.url.params) == {"id": "abc-123"}


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        ([], "Error removing peer: an address or id is required for the peer to remove\n"),
        (
            ["-peer-address", "a:1", "-peer-id", "b"],
            "Error removing peer: cannot give both an address and id\n",
        ),
    ],
)
def test_raft_remove_peer_needs_exactly_one_target(argv: list[str], line: str) -> None:
    fake = FakeNomad()
    res = run_cli(["operator", "raft", "remove-peer", *argv], fake)
    assert (res.code, res.out, res.err) == (1, "", line)
    assert fake.calls == []


def test_raft_remove_peer_server_error() -> None:
    fake = FakeNomad()
    fake.route(
        "DELETE",
        "/v1/operator/raft/peer",
        Reply(status=500, text='address "9.9.9.9:4647" was not found in the Raft configuration'),
    )
    res = run_cli(["operator", "raft", "remove-peer", "-peer-address", "9.9.9.9:4647"], fake)
    assert res.code == 1
    assert res.err == (
        'Error removing peer: address "9.9.9.9:4647" was not found in the Raft configuration\n'
    )


def test_operator_group_alone_prints_help() -> None:
    res = run_cli(["operator", "raft"], FakeNomad())
    assert res.code == 1
    assert "list-peers" in res.out and "remove-peer" in res.out


# -- operator snapshot -------------------------------------------------------------


def test_snapshot_save_verifies_digest_and_writes_file(tmp_path: Path) -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP, _digest(SNAP)))
    target = tmp_path / "cluster.snap"
    res = run_cli(["operator", "snapshot", "save", str(target)], fake)
    assert (res.code, res.err) == (0, "")
    assert res.out == f"State file written to {target}\n"
    assert target.read_bytes() == SNAP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.snap"]
    assert "stale" not in _one(fake, "GET", "/v1/operator/snapshot").url.params


def test_snapshot_save_default_file_and_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP, None))
    res = run_cli(["operator", "snapshot", "save", "-stale"], fake)
    assert (res.code, res.out) == (0, "State file written to backup.snap\n")
    assert (tmp_path / "backup.snap").read_bytes() == SNAP
    assert _one(fake, "GET", "/v1/operator/snapshot").url.params["stale"] == "true"


def test_snapshot_save_refuses_a_digest_mismatch(tmp_path: Path) -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP, _digest(b"other bytes")))
    target = tmp_path / "bad.snap"
    res = run_cli(["operator", "snapshot", "save", str(target)], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == "Failed to download snapshot file: mismatch checksum\n"
    assert list(tmp_path.iterdir()) == []


def test_snapshot_save_refuses_a_malformed_digest(tmp_path: Path) -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP, "garbage"))
    res = run_cli(["operator", "snapshot", "save", str(tmp_path / "x.snap")], fake)
    assert res.code == 1
    assert res.err == "Failed to download snapshot file: invalid digest format\n"
    assert list(tmp_path.iterdir()) == []


def test_snapshot_save_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "keep.snap"
    target.write_bytes(b"old")
    fake = FakeNomad()
    res = run_cli(["operator", "snapshot", "save", str(target)], fake)
    assert res.code == 1
    assert res.err == f'Destination file already exists: "{target}"\n'
    assert target.read_bytes() == b"old"
    assert fake.calls == []


def test_snapshot_save_server_error(tmp_path: Path) -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", Reply(status=403, text="Permission denied"))
    res = run_cli(["operator", "snapshot", "save", str(tmp_path / "x.snap")], fake)
    assert (res.code, res.err) == (1, "Failed to get snapshot file: Permission denied\n")
    assert list(tmp_path.iterdir()) == []


def test_snapshot_restore_uploads_file_bytes(tmp_path: Path) -> None:
    source = tmp_path / "backup.snap"
    source.write_bytes(SNAP)
    fake = FakeNomad()
    fake.route("PUT", "/v1/operator/snapshot", Reply(text=""))
    res = run_cli(["operator", "snapshot", "restore", str(source)], fake)
    assert (res.code, res.out, res.err) == (0, "Snapshot Restored\n", "")
    assert _one(fake, "PUT", "/v1/operator/snapshot").content == SNAP


def test_snapshot_restore_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.snap"
    fake = FakeNomad()
    res = run_cli(["operator", "snapshot", "restore", str(missing)], fake)
    assert res.code == 1
    assert res.err == f'Error opening snapshot file: "open {missing}: no such file or directory"\n'
    assert fake.calls == []


def test_snapshot_restore_server_error(tmp_path: Path) -> None:
    source = tmp_path / "backup.snap"
    source.write_bytes(SNAP)
    fake = FakeNomad()
    fake.route("PUT", "/v1/operator/snapshot", Reply(status=500, text="snapshot is corrupt"))
    res = run_cli(["operator", "snapshot", "restore", str(source)], fake)
    assert (res.code, res.out) == (1, "")
    assert res.err == "Failed to get restore snapshot: snapshot is corrupt\n"


def test_snapshot_restore_needs_a_file() -> None:
    res = run_cli(["operator", "snapshot", "restore"], FakeNomad())
    assert res.code == 1 and res.err.startswith("Error: ")


# -- system gc ---------------------------------------------------------------------


def test_system_gc_is_silent() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/system/gc", Reply(text=""))
    res = run_cli(["system", "gc"], fake)
    assert (res.code, res.out, res.err) == (0, "", "")
    assert _one(fake, "PUT", "/v1/system/gc").content == b""


def test_system_gc_error() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/system/gc", Reply(status=403, text="Permission denied"))
    res = run_cli(["system", "gc"], fake)
    assert (res.code, res.err) == (
        1,
        "Error running system garbage-collection: Permission denied\n",
    )


# -- client methods ----------------------------------------------------------------


def _client(fake: FakeNomad, region: str | None = None, token: str | None = None) -> NomadClient:
    return NomadClient(token=token, region=region, transport=fake.transport, env={})


def test_client_snapshot_save_returns_bytes_and_digest() -> None:
    fake = FakeNomad()
    digest = _digest(SNAP)
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP, digest))
    with _client(fake) as client:
        assert client.snapshot_save() == (SNAP, digest)


@pytest.mark.parametrize("algo", ["sha-512", "md5"])
def test_client_snapshot_digest_other_algorithms(algo: str) -> None:
    name = {"sha-512": "sha512", "md5": "md5"}[algo]
    digest = f"{algo}=" + base64.b64encode(hashlib.new(name, SNAP).digest()).decode()
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP, digest))
    with _client(fake) as client:
        assert client.snapshot_save()[0] == SNAP


def test_client_snapshot_mismatch_raises() -> None:
    fake = FakeNomad()
    fake.route("GET", "/v1/operator/snapshot", _snapshot_reply(SNAP + b"!", _digest(SNAP)))
    with _client(fake) as client, pytest.raises(NomadError, match="mismatch checksum"):
        client.snapshot_save()


def test_client_requests_carry_region_and_token() -> None:
    fake = FakeNomad()
    fake.route("PUT", "/v1/agent/join", {"num_joined": 1, "error": ""})
    fake.route("PUT", "/v1/operator/snapshot", Reply(text=""))
    with _client(fake, region="eu", token="s3cr3t") as client:
        assert client.agent_join(["a:1"]) == (1, "")
        client.snapshot_restore(SNAP)
    for req in fake.calls:
        assert req.url.params["region"] == "eu"
        assert req.headers["X-Nomad-Token"] == "s3cr3t"


def test_client_remove_peer_needs_exactly_one() -> None:
    with _client(FakeNomad()) as client:
        with pytest.raises(ValueError):
            client.raft_remove_peer()
        with pytest.raises(ValueError):
            client.raft_remove_peer(address="a:1", peer_id="b")
