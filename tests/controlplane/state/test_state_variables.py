"""The variables and root key tables: check-and-set decided by the store (so
by the FSM, in log order), indexes and times kept across updates, refusals
that every replica makes alike, snapshot isolation, and archives."""

from __future__ import annotations

from controlplane.raft.fsm import FSM
from controlplane.raft.messages import DeleteByName, MsgType, RootKeyUpsert, VarApply, encode
from controlplane.server import snapshot
from controlplane.state import StateStore
from controlplane.state.variables import ACTIVE_KEY_DELETE, KEY_IN_USE
from controlplane.structs.variables import RootKeyMeta, VariableEncrypted


def _var(path: str, data: bytes = b"x", key: str = "k1", t: int = 100) -> VariableEncrypted:
    return VariableEncrypted(
        namespace="default", path=path, key_id=key, data=data, create_time=t, modify_time=t
    )


def _store() -> StateStore:
    store = StateStore()
    store.upsert_root_key(1, RootKeyMeta(key_id="k1"))
    return store


def test_set_keeps_create_index_and_time() -> None:
    store = _store()
    first = store.apply_variable(5, "set", _var("a", t=100)).stored
    assert first is not None and (first.create_index, first.modify_index) == (5, 5)
    second = store.apply_variable(7, "set", _var("a", b"y", t=200)).stored
    assert second is not None
    assert (second.create_index, second.modify_index) == (5, 7)
    assert (second.create_time, second.modify_time) == (100, 200)
    assert store.table_index("variables") == 7


def test_cas_zero_means_must_not_exist_and_stale_index_conflicts() -> None:
    store = _store()
    assert store.apply_variable(5, "cas", _var("a"), 0).stored is not None
    lost = store.apply_variable(6, "cas", _var("a", b"other"), 0)
    assert lost.stored is None and lost.conflict is not None
    assert lost.conflict.modify_index == 5 and lost.conflict.data == b"x"
    stale = store.apply_variable(7, "cas", _var("a", b"new"), 4)
    assert stale.conflict is not None and store.variable("default", "a").data == b"x"  # type: ignore[union-attr]
    ok = store.apply_variable(8, "cas", _var("a", b"new"), 5)
    assert ok.stored is not None and ok.stored.modify_index == 8


def test_cas_on_a_missing_variable_conflicts_with_an_empty_one() -> None:
    store = _store()
    out = store.apply_variable(5, "cas", _var("ghost"), 3)
    assert out.conflict == VariableEncrypted(namespace="default", path="ghost", key_id="")
    assert store.variable("default", "ghost") is None


def test_delete_and_delete_cas() -> None:
    store = _store()
    store.apply_variable(5, "set", _var("a"))
    assert store.apply_variable(6, "delete-cas", _var("a"), 4).conflict is not None
    assert store.variable("default", "a") is not None
    assert store.apply_variable(7, "delete-cas", _var("a"), 5).conflict is None
    assert store.variable("default", "a") is None
    # deleting what is not there is no error
    assert store.apply_variable(8, "delete", _var("a")).conflict is None


def test_a_variable_sealed_with_an_unknown_key_is_refused() -> None:
    out = _store().apply_variable(5, "set", _var("a", key="nope"))
    assert out.error == "variable sealed with unknown root key nope"


def test_one_active_key_and_removal_refusals() -> None:
    store = _store()
    store.apply_variable(2, "set", _var("a"))
    store.upsert_root_key(3, RootKeyMeta(key_id="k2"))
    states = {k.key_id: k.state for k in store.root_keys()}
    assert states == {"k1": "inactive", "k2": "active"}
    assert store.active_root_key().key_id == "k2"  # type: ignore[union-attr]
    assert store.delete_root_key(4, "k2") == ACTIVE_KEY_DELETE
    assert store.delete_root_key(4, "k1") == KEY_IN_USE
    store.apply_variable(5, "delete", _var("a"))
    assert store.delete_root_key(6, "k1") == ""
    assert [k.key_id for k in store.root_keys()] == ["k2"]


def test_snapshots_do_not_see_later_writes() -> None:
    store = _store()
    store.apply_variable(2, "set", _var("a"))
    snap = store.snapshot()
    store.apply_variable(3, "set", _var("a", b"changed"))
    store.apply_variable(4, "set", _var("b"))
    store.upsert_root_key(5, RootKeyMeta(key_id="k2"))
    assert snap.variable("default", "a").data == b"x"  # type: ignore[union-attr]
    assert snap.variable("default", "b") is None
    assert snap.active_root_key().key_id == "k1"  # type: ignore[union-attr]


def test_the_fsm_reports_conflicts_as_answers_and_refusals_as_errors() -> None:
    fsm = FSM(StateStore())
    fsm.apply(1, MsgType.ROOT_KEY_UPSERT, encode(RootKeyUpsert(key=RootKeyMeta(key_id="k1"))))
    put = fsm.apply(2, MsgType.VAR_APPLY, encode(VarApply(op="cas", var=_var("a"))))
    assert put.error == "" and put.data["stored"].modify_index == 2
    again = fsm.apply(3, MsgType.VAR_APPLY, encode(VarApply(op="cas", var=_var("a"))))
    assert again.error == "" and again.data["conflict"].modify_index == 2
    refused = fsm.apply(4, MsgType.ROOT_KEY_DELETE, encode(DeleteByName(names=["k1"])))
    assert (refused.error, refused.error_status) == (ACTIVE_KEY_DELETE, 400)
    missing = fsm.apply(5, MsgType.ROOT_KEY_DELETE, encode(DeleteByName(names=["zz"])))
    assert missing.error_status == 404


def test_archives_carry_ciphertext_and_key_metadata() -> None:
    store = _store()
    store.apply_variable(2, "set", _var("a", b"\x00cipher"))
    tables = snapshot.to_tables(snapshot.load(snapshot.save(store)), 10)
    restored = StateStore()
    restored.restore(tables)
    assert restored.variable("default", "a").data == b"\x00cipher"  # type: ignore[union-attr]
    assert restored.active_root_key().key_id == "k1"  # type: ignore[union-attr]
