"""Server side of ACLs: bootstrap, policies and tokens (API.md §2.10).

Validates requests as Nomad's ACL RPC endpoints do (same messages) and
submits ACL_* entries; the store enforces the replicated invariants (one
bootstrap, unique secrets). Token secrets, accessors, create times and
expiry instants are generated here, never in the FSM. Nothing here decides
what a token may do (controlplane/acl does), and nothing here logs a secret.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from controlplane.acl.policy import parse
from controlplane.errors import NotFound, ValidationError
from controlplane.raft.messages import (
    ACLBootstrap,
    ACLPolicyUpsert,
    ACLTokenUpsert,
    DeleteByName,
    MsgType,
)
from controlplane.structs import ACLPolicy, ACLToken
from controlplane.structs.security import TOKEN_CLIENT, TOKEN_MANAGEMENT

if TYPE_CHECKING:
    from controlplane.raft.node import RaftNode
    from controlplane.server.server import ServerConfig
    from controlplane.state import StateStore

ACL_DISABLED = "ACL support disabled"
_POLICY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_POLICY_DESCRIPTION = 256
MAX_TOKEN_NAME = 256


def rfc3339(ns: int) -> str:
    """Unix ns -> RFC 3339 in UTC with microseconds (what Python can read back)."""
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> int:
    """RFC 3339 -> unix ns; ValidationError when it is not one."""
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"invalid ExpirationTime {text!r}: want RFC 3339") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1e9)


def _invalid(what: str, idx: int, errors: list[str]) -> ValidationError:
    # Nomad's multierror rendering, which the CLI flattens onto one line
    plural = "s" if len(errors) > 1 else ""
    items = "".join(f"\t* {e}\n" for e in errors)
    return ValidationError(f"{what} {idx} invalid: {len(errors)} error{plural} occurred:\n{items}")


class ACLEndpoints:
    """Mixed into Server; `raft`, `store` and `cfg` are the server's."""

    raft: RaftNode
    store: StateStore
    cfg: ServerConfig

    # Nomad's acl { token_min_expiration_ttl, token_max_expiration_ttl } defaults
    acl_token_min_ttl_s: float = 60.0
    acl_token_max_ttl_s: float = 24 * 3600.0

    def require_acl_enabled(self) -> None:
        if not self.cfg.acl_enabled:
            raise ValidationError(ACL_DISABLED)

    async def acl_bootstrap(self, reset_index: int = 0, secret_id: str = "") -> ACLToken:
        self.require_acl_enabled()
        if secret_id and not _UUID.match(secret_id):
            raise ValidationError("invalid acl token")
        token = ACLToken(
            accessor_id=str(uuid.uuid4()),
            secret_id=secret_id or str(uuid.uuid4()),
            name="Bootstrap Token",
            type=TOKEN_MANAGEMENT,
            global_=True,
            create_time=rfc3339(time.time_ns()),
        )
        result = await self.raft.submit_async(
            MsgType.ACL_BOOTSTRAP, ACLBootstrap(token=token, reset_index=reset_index)
        )
        stored = self.store.acl_token(token.accessor_id)
        assert stored is not None, f"bootstrap token missing after index {result.index}"
        return stored

    # -- policies ------------------------------------------------------------
    async def upsert_acl_policies(self, policies: list[ACLPolicy]) -> int:
        self.require_acl_enabled()
        if not policies:
            raise ValidationError("must specify as least one policy")
        for idx, policy in enumerate(policies):
            errors = []
            if not _POLICY_NAME.match(policy.name):
                errors.append(f"invalid name '{policy.name}'")
            try:
                parse(policy.rules, strict=True)
            except ValidationError as exc:
                errors.append(f"failed to parse rules: {exc}")
            if len(policy.description) > MAX_POLICY_DESCRIPTION:
                errors.append(f"description longer than {MAX_POLICY_DESCRIPTION}")
            if errors:
                raise _invalid("policy", idx, errors)
        result = await self.raft.submit_async(
            MsgType.ACL_POLICY_UPSERT, ACLPolicyUpsert(policies=policies)
        )
        return result.index

    async def delete_acl_policies(self, names: list[str]) -> int:
        self.require_acl_enabled()
        if not names:
            raise ValidationError("must specify as least one policy")
        result = await self.raft.submit_async(MsgType.ACL_POLICY_DELETE, DeleteByName(names=names))
        return result.index

    # -- tokens --------------------------------------------------------------
    async def upsert_acl_tokens(
        self, tokens: list[ACLToken], expiration_ttls_s: list[float] | None = None
    ) -> list[ACLToken]:
        """Create (empty AccessorID) or update tokens; returns them as stored.

        `expiration_ttls_s[i]` (0 = none) is token i's requested ExpirationTTL;
        a new token's expiry is computed here from its create time."""
        self.require_acl_enabled()
        if not tokens:
            raise ValidationError("must specify as least one token")
        ttls = list(expiration_ttls_s or [])
        ttls += [0.0] * (len(tokens) - len(ttls))
        if len({t.global_ for t in tokens}) > 1:
            raise ValidationError("cannot upsert mixed global and non-global tokens")
        now = time.time_ns()
        filled = []
        for idx, (tok, ttl) in enumerate(zip(tokens, ttls, strict=True)):
            existing = None
            if tok.accessor_id:
                existing = self.store.acl_token(tok.accessor_id)
                if existing is None:
                    raise ValidationError(f"cannot find token {tok.accessor_id}")
            errors = self._token_errors(tok, ttl, existing, now)
            if errors:
                raise _invalid("token", idx, errors)
            if existing is None:
                expires_at = 0
                if ttl:
                    expires_at = now + int(ttl * 1e9)
                elif tok.expiration_time:
                    expires_at = parse_rfc3339(tok.expiration_time)
                tok = tok.replace(
                    accessor_id=str(uuid.uuid4()),
                    secret_id=str(uuid.uuid4()),
                    create_time=rfc3339(now),
                    expires_at=expires_at,
                    expiration_time=rfc3339(expires_at) if expires_at else "",
                )
            else:
                # expiry is fixed at creation
                tok = tok.replace(
                    expires_at=existing.expires_at, expiration_time=existing.expiration_time
                )
            filled.append(tok)
        await self.raft.submit_async(MsgType.ACL_TOKEN_UPSERT, ACLTokenUpsert(tokens=filled))
        out = [self.store.acl_token(t.accessor_id) for t in filled]
        return [t for t in out if t is not None]

    def _token_errors(
        self, tok: ACLToken, ttl_s: float, existing: ACLToken | None, now_ns: int
    ) -> list[str]:
        """Nomad's ACLToken.Validate."""
        errors = []
        if len(tok.name) > MAX_TOKEN_NAME:
            errors.append("token name too long")
        if tok.type == TOKEN_CLIENT:
            if not tok.policies:
                errors.append("client token missing policies")
        elif tok.type == TOKEN_MANAGEMENT:
            if tok.policies:
                errors.append("management token cannot be associated with policies")
        else:
            errors.append("token type must be client or management")
        if existing is None:
            if ttl_s < 0:
                errors.append(f"token expiration TTL '{ttl_s}s' should not be negative")
            expires_in_s = ttl_s
            if not ttl_s and tok.expiration_time:
                expires_in_s = (parse_rfc3339(tok.expiration_time) - now_ns) / 1e9
                if expires_in_s < 0:
                    errors.append("expiration time cannot be before create time")
            if expires_in_s > self.acl_token_max_ttl_s:
                errors.append(
                    f"expiration time cannot be more than {_go_duration(self.acl_token_max_ttl_s)}"
                    f" in the future (was {_go_duration(expires_in_s)})"
                )
            elif 0 < expires_in_s < self.acl_token_min_ttl_s:
                errors.append(
                    f"expiration time cannot be less than {_go_duration(self.acl_token_min_ttl_s)}"
                    f" in the future (was {_go_duration(expires_in_s)})"
                )
        else:
            if existing.global_ != tok.global_:
                errors.append("cannot toggle global mode")
            if ttl_s:
                errors.append("cannot update expiration TTL")
            if tok.expiration_time and tok.expiration_time != existing.expiration_time:
                errors.append("cannot update expiration time")
        return errors

    async def delete_acl_tokens(self, accessor_ids: list[str]) -> int:
        self.require_acl_enabled()
        if not accessor_ids:
            raise ValidationError("must specify as least one token")
        missing = [a for a in accessor_ids if self.store.acl_token(a) is None]
        if missing:
            raise ValidationError(f"Cannot delete nonexistent tokens: {', '.join(missing)}")
        result = await self.raft.submit_async(
            MsgType.ACL_TOKEN_DELETE, DeleteByName(names=accessor_ids)
        )
        return result.index

    def acl_token_by_accessor(self, accessor_id: str) -> ACLToken:
        token = self.store.acl_token(accessor_id)
        if token is None:
            raise NotFound("ACL token not found")
        return token


def _go_duration(seconds: float) -> str:
    """A duration as Go prints it, roughly: 24h0m0s, 1m0s, 1.5s."""
    total = int(seconds)
    if total < 60:
        return f"{seconds:g}s"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else f"{m}m{s}s"
