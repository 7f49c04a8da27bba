"""Variables on a real 3-server cluster (separate processes, Raft `encrypt`
key set): check-and-set races through different servers have exactly one
winner; followers fetch root keys (HMAC-signed, sealed) and decrypt; a
full rotation sent to a follower re-seals everything; and no item value,
nor any key material, is found in the servers' data dirs (Raft journal) or
in an operator snapshot."""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.agent.tls_certs import gossip_key
from controlplane.server import snapshot
from controlplane.server.keyring import AUTH_HEADER, TIME_HEADER, derive_secret, sign
from tests.agents import AgentProcess
from tests.cluster_support import leader_of, start_servers
from tests.waiting import wait_for

SECRET = "sup3r-s3cret-value-7f1c"


class Cluster:
    def __init__(self, servers: list[AgentProcess], data: Path, key: str) -> None:
        self.servers = servers
        self.data = data
        self.key = key

    def leader(self) -> AgentProcess:
        return wait_for(lambda: leader_of(self.servers), 20, "a leader")

    def followers(self) -> list[AgentProcess]:
        leader = self.leader()
        return [s for s in self.servers if s is not leader]

    def root_keys(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(
            f"{self.servers[0].address}/v1/operator/keyring/keys?stale", timeout=5
        ).json()
        return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("vars-cluster")
    key = gossip_key()
    started: list[AgentProcess] = []
    try:
        servers = start_servers(tmp, 3, extra=["-encrypt", key], started=started)
        c = Cluster(servers, tmp, key)
        wait_for(c.root_keys, 20, "the first root key")
        yield c
    finally:
        for p in started:
            p.kill()


def _get(server: AgentProcess, path: str) -> httpx.Response:
    return httpx.get(f"{server.address}/v1/var/{path}?stale", timeout=10)


def _race(cluster: Cluster, path: str) -> dict[int, httpx.Response]:
    """One `PUT ?cas=0` of `path` per server, released together."""
    barrier = threading.Barrier(len(cluster.servers))
    results: dict[int, httpx.Response] = {}

    def writer(i: int, server: AgentProcess) -> None:
        barrier.wait()
        results[i] = httpx.put(
            f"{server.address}/v1/var/{path}",
            params={"cas": 0},
            json={"Items": {"writer": str(i)}},
            timeout=15,
        )

    threads = [threading.Thread(target=writer, args=(i, s)) for i, s in enumerate(cluster.servers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_cas_creates_through_different_servers_have_one_winner(
    cluster: Cluster,
) -> None:
    for round_ in range(4):
        path = f"race/r{round_}"
        results = _race(cluster, path)
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200, 409, 409], [(r.status_code, r.text) for r in results.values()]
        winner = next(r.json() for r in results.values() if r.status_code == 200)
        for r in results.values():
            if r.status_code == 409:  # the losers are shown the winner
                assert r.json()["Items"] == winner["Items"]
                assert r.json()["ModifyIndex"] == winner["ModifyIndex"]
        for s in cluster.servers:
            wait_for(lambda s=s, p=path: _get(s, p).status_code == 200, 10, f"replicated to {s}")
            assert _get(s, path).json()["Items"] == winner["Items"]


def test_followers_fetch_the_key_and_decrypt(cluster: Cluster) -> None:
    leader = cluster.leader()
    resp = httpx.put(f"{leader.address}/v1/var/app/cfg", json={"Items": {"k": "v"}}, timeout=10)
    assert resp.status_code == 200, resp.text
    active = next(k for k in cluster.root_keys() if k["State"] == "active")
    materials = set()
    for i, s in enumerate(cluster.servers):
        wait_for(lambda s=s: _get(s, "app/cfg").status_code == 200, 10, "replicated")
        assert _get(s, "app/cfg").json()["Items"] == {"k": "v"}
        path = cluster.data / f"s{i}" / "keystore" / f"{active['KeyID']}.nks.json"
        wait_for(path.exists, 10, f"{path} written")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        materials.add(json.loads(path.read_text())["Key"])
    assert len(materials) == 1  # one key, copied to every server


def test_keyring_endpoint_needs_the_cluster_secret(cluster: Cluster) -> None:
    key_id = next(k for k in cluster.root_keys() if k["State"] == "active")["KeyID"]
    url = f"{cluster.servers[1].address}/v1/internal/keyring/{key_id}"
    assert httpx.get(url, timeout=5).status_code == 403
    stamp = str(time.time())
    forged = {TIME_HEADER: stamp, AUTH_HEADER: sign(derive_secret(gossip_key()), key_id, stamp)}
    assert httpx.get(url, headers=forged, timeout=5).status_code == 403
    stale = str(time.time() - 3600)
    old = {TIME_HEADER: stale, AUTH_HEADER: sign(derive_secret(cluster.key), key_id, stale)}
    assert httpx.get(url, headers=old, timeout=5).status_code == 403
    good = {TIME_HEADER: stamp, AUTH_HEADER: sign(derive_secret(cluster.key), key_id, stamp)}
    resp = httpx.get(url, headers=good, timeout=5)
    assert resp.status_code == 200
    assert set(resp.json()) == {"KeyID", "Sealed"}  # never the key in clear


def test_full_rotation_through_a_follower_reseals_everything(cluster: Cluster) -> None:
    httpx.put(f"{cluster.servers[0].address}/v1/var/rot/x", json={"Items": {"a": "1"}}, timeout=10)
    follower = cluster.followers()[0]
    resp = httpx.put(
        f"{follower.address}/v1/operator/keyring/rotate", params={"full": "true"}, timeout=30
    )
    assert resp.status_code == 200, resp.text
    new_id = resp.json()["Key"]["KeyID"]
    states = {k["KeyID"]: k["State"] for k in cluster.root_keys()}
    assert states[new_id] == "active"
    assert list(states.values()).count("active") == 1
    for s in cluster.servers:
        assert _get(s, "rot/x").json()["Items"] == {"a": "1"}
        assert _get(s, "app/cfg").json()["Items"] == {"k": "v"}


def test_no_plaintext_values_or_key_material_at_rest(cluster: Cluster) -> None:
    leader = cluster.leader()
    resp = httpx.put(
        f"{leader.address}/v1/var/secret/db", json={"Items": {"password": SECRET}}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    for s in cluster.servers:
        wait_for(lambda s=s: _get(s, "secret/db").status_code == 200, 10, "replicated")

    raft_files = [f for f in cluster.data.rglob("*") if f.is_file() and "raft" in f.parts]
    journal = b"".join(f.read_bytes() for f in raft_files)
    assert b"secret/db" in journal  # the variable's entry is there: the check below means something
    assert SECRET.encode() not in journal
    for f in cluster.data.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    for keyfile in cluster.data.rglob("*.nks.json"):
        material = json.loads(keyfile.read_text())["Key"]
        assert material.encode() not in journal
        assert base64.b64decode(material) not in journal

    snap = httpx.get(f"{leader.address}/v1/operator/snapshot", timeout=30)
    assert snap.status_code == 200
    raw = zlib.decompress(snap.content[len(snapshot.MAGIC) :])
    assert b"secret/db" in raw and SECRET.encode() not in raw
