"""AllocStubCache: list stubs are reused while the stored alloc is unchanged."""

from __future__ import annotations

from controlplane.api.stubs import AllocStubCache, alloc_stub, alloc_stub_cache
from controlplane.state import StateStore
from controlplane.structs import Allocation, AllocClientUpdate


def _store() -> StateStore:
    s = StateStore()
    s.upsert_allocs(
        1,
        [
            Allocation(id=f"a{i}", job_id="web", node_id="n", task_group="g", name=f"web.g[{i}]")
            for i in range(3)
        ],
    )
    return s


def test_stubs_match_fresh_ones_and_follow_updates() -> None:
    s = _store()
    cache = AllocStubCache()
    first = cache.stubs(s.allocs())
    assert first == [alloc_stub(a) for a in s.allocs()]
    again = cache.stubs(s.allocs())
    assert all(x is y for x, y in zip(first, again, strict=True))
    s.update_allocs_from_client(2, [AllocClientUpdate(id="a1", client_status="running")])
    after = cache.stubs(s.allocs())
    assert [st.client_status for st in after] == ["pending", "running", "pending"]
    assert after[0] is first[0] and after[1] is not first[1]


def test_non_default_shapes_are_built_fresh() -> None:
    s = _store()
    cache = AllocStubCache()
    with_res = cache.stubs(s.allocs(), resources=True)
    assert with_res == [alloc_stub(a, resources=True) for a in s.allocs()]
    assert cache.stubs(s.allocs(), task_states=False)[0].task_states is None


def test_prune_drops_deleted_allocs_once_the_cache_outgrows_the_table() -> None:
    s = _store()
    cache = AllocStubCache()
    cache.stubs(s.allocs())
    s.delete_garbage(2, [], ["a0", "a1", "a2"], [])
    cache.prune(s.alloc_count(), lambda i: s.alloc_by_id(i) is not None)
    assert len(cache._stubs) == 3  # still small: kept
    cache.prune(s.alloc_count(), lambda i: s.alloc_by_id(i) is not None, slack=0)
    assert cache._stubs == {}


def test_each_store_has_its_own_cache() -> None:
    a, b = StateStore(), StateStore()
    assert alloc_stub_cache(a) is alloc_stub_cache(a)
    assert alloc_stub_cache(a) is not alloc_stub_cache(b)
