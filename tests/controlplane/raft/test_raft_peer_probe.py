"""The join probe against real pysyncobj nodes on loopback: same key answers,
another key or no encryption hangs up, nothing listening is unreachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.encryptor import getEncryptor

from controlplane.raft.peer_probe import UNREACHABLE, WRONG_KEY, probe
from tests.agents import free_port
from tests.waiting import wait_for


def _node(password: str | None) -> SyncObj:
    addr = f"127.0.0.1:{free_port()}"
    conf = SyncObjConf(bindAddress=addr, password=password, autoTickPeriod=0.01)
    return SyncObj(addr, [], conf)


@pytest.fixture
def nodes() -> Iterator[dict[str, SyncObj]]:
    made = {"keyed": _node("key-one"), "plain": _node(None)}
    for node in made.values():
        wait_for(node._isReady, what="pysyncobj node ready")
    yield made
    for node in made.values():
        node.destroy()


def test_probe_accepts_only_the_same_key(nodes: dict[str, SyncObj]) -> None:
    keyed = nodes["keyed"].selfNode.address
    plain = nodes["plain"].selfNode.address
    same, other = getEncryptor("key-one"), getEncryptor("key-two")

    assert probe(keyed, same) == ""
    assert probe(keyed, other) == WRONG_KEY
    # a peer that encrypts nothing cannot read an encrypted cluster either
    assert probe(plain, same) == WRONG_KEY
    assert probe(f"127.0.0.1:{free_port()}", same) == UNREACHABLE
    # an unencrypted cluster only checks that something answers
    assert probe(plain, None) == ""
    # a refused handshake leaves the node serving the right key
    assert probe(keyed, same) == ""
