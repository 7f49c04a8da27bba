"""Secret -> ACL against a state store, with a cache of compiled ACLs.

- ACLs disabled: every request gets MANAGEMENT.
- No secret: the `anonymous` policy if one exists, else nothing (EMPTY).
- Unknown secret: PermissionDenied("ACL token not found"); expired token:
  PermissionDenied("ACL token expired") (Nomad's wording, both 403).
- Management token: MANAGEMENT; client token: its policies compiled.

Compiled ACLs are cached by the policies' (name, ModifyIndex) pairs, so a
policy update is seen by the next request and nothing needs invalidating;
resolving a known token costs two dict lookups plus one per policy. The
store's ACL tables are replaced whole on every write (state/security.py),
so they are read here without the store lock. Policies named by a token but
missing are skipped, as Nomad does.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from controlplane.errors import PermissionDenied
from controlplane.structs import ACLPolicy, ACLToken

from .compile import compile_acl
from .model import ACL, EMPTY, MANAGEMENT
from .policy import parse

ANONYMOUS_POLICY = "anonymous"
TOKEN_NOT_FOUND = "ACL token not found"
TOKEN_EXPIRED = "ACL token expired"
CACHE_SIZE = 512

PolicyKey = tuple[tuple[str, int], ...]


class ACLState(Protocol):
    def acl_policy(self, name: str) -> ACLPolicy | None: ...

    def acl_token_by_secret(self, secret_id: str) -> ACLToken | None: ...


class ACLCache:
    """Compiled ACLs by (policy name, ModifyIndex) set: a small LRU."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[PolicyKey, ACL] = OrderedDict()

    def get_or_compile(self, policies: list[ACLPolicy]) -> ACL:
        key: PolicyKey = tuple(sorted((p.name, p.modify_index) for p in policies))
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        # lenient: a stored policy must never fail to compile
        acl = compile_acl(
            (parse(p.rules, strict=False) for p in policies), names=[n for n, _ in key]
        )
        with self._lock:
            self._items[key] = acl
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return acl


class ACLResolver:
    def __init__(
        self,
        state: ACLState,
        enabled: bool,
        clock_ns: Callable[[], int] = time.time_ns,
        cache: ACLCache | None = None,
    ) -> None:
        self.state = state
        self.enabled = enabled
        self._clock_ns = clock_ns
        self._cache = cache or ACLCache()

    def resolve(self, secret: str) -> ACL:
        return self.resolve_token(secret)[0]

    def resolve_token(self, secret: str) -> tuple[ACL, ACLToken | None]:
        """The ACL of `secret` and its token (None: anonymous or ACLs off)."""
        if not self.enabled:
            return MANAGEMENT, None
        if not secret:
            return self.policies_acl([ANONYMOUS_POLICY]), None
        token = self.state.acl_token_by_secret(secret)
        if token is None:
            raise PermissionDenied(TOKEN_NOT_FOUND)
        if token.expired(self._clock_ns()):
            raise PermissionDenied(TOKEN_EXPIRED)
        if token.management():
            return MANAGEMENT, token
        return self.policies_acl(token.policies or []), token

    def policies_acl(self, names: list[str]) -> ACL:
        found = [p for p in (self.state.acl_policy(n) for n in names) if p is not None]
        if not found:
            return EMPTY
        return self._cache.get_or_compile(found)
