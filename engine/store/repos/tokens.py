"""Integration tokens for the REST API: create (the secret is shown once), list, revoke, authenticate.

How it works: a token is `jq_` followed by 32 random bytes in URL-safe base64. Only the SHA-256 of the
whole token is stored (a fast hash is enough for a high-entropy secret: there is nothing to guess);
a presented token is hashed, looked up by that hash and compared again in constant time. A token is
refused once revoked or past its expiry. `last_used_at` is written at most once a minute per token.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from engine.store.database import Store
from engine.store.errors import NotFound
from engine.store.models import AgentRow, ApiTokenRow, as_utc

log = logging.getLogger(__name__)
TOKEN_PREFIX = "jq_"
LAST_USED_EVERY = dt.timedelta(minutes=1)
_NAME = re.compile(r"^[A-Za-z0-9_.@ -]{1,64}\Z")
_TOKEN = re.compile(r"^jq_[A-Za-z0-9_-]{43}\Z")


@dataclass(frozen=True)
class ApiToken:
    """A token as the API and the CLI see it (never with its secret or hash)."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    agent_id: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    def usable(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenRepository:
    """API tokens by id; the secret exists only in the return value of `create`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, scopes: tuple[str, ...] | list[str], now: dt.datetime | float,
               expires_at: dt.datetime | float | None = None, agent_id: str | None = None) -> tuple[ApiToken, str]:
        """A new token and its secret. `agent_id` limits the token to that agent's own calls."""
        if not _NAME.match(name or ""):
            raise ValueError(f"token name must be 1..64 letters, digits, blanks or _.@-, got {name!r}")
        if not scopes:
            raise ValueError("a token needs at least one scope")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = as_utc(now)
        with self.store.session() as s:
            if agent_id is not None and s.get(AgentRow, agent_id) is None:
                raise NotFound(f"no agent {agent_id!r}")
            row = ApiTokenRow(name=name, prefix=secret[:8], secret_sha256=digest(secret), scopes=sorted(set(scopes)),
                              agent_id=agent_id, created_at=created, expires_at=as_utc(expires_at))
            s.add(row)
            s.flush()
            log.info("API token %s (%s) created with scopes %s", row.id, name, " ".join(row.scopes))
            return _token(row), secret

    def list(self) -> list[ApiToken]:
        with self.store.session() as s:
            return [_token(r) for r in s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))]

    def revoke(self, token_id: int, now: dt.datetime | float) -> bool:
        """Revoke a token for good; False when there is no such token or it was already revoked."""
        with self.store.session() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = as_utc(now)
            log.info("API token %s (%s) revoked", row.id, row.name)
            return True

    def authenticate(self, presented: str, now: dt.datetime | float) -> ApiToken | None:
        """The usable token whose secret this is, else None; notes when it was used."""
        if not _TOKEN.match(presented or ""):
            return None
        wanted = digest(presented)
        when = as_utc(now)
        assert when is not None
        with self.store.session() as s:
            row = s.scalars(select(ApiTokenRow).where(ApiTokenRow.secret_sha256 == wanted)).first()
            if row is None or not hmac.compare_digest(row.secret_sha256, wanted):
                return None
            token = _token(row)
            if not token.usable(when):
                return None
            if row.last_used_at is None or when - as_utc(row.last_used_at) >= LAST_USED_EVERY:  # type: ignore[operator]
                row.last_used_at = when
            return _token(row)


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(row.id, row.name, row.prefix, tuple(row.scopes or ()), row.agent_id, as_utc(row.created_at),
                    as_utc(row.expires_at), as_utc(row.revoked_at), as_utc(row.last_used_at))
