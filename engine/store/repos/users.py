"""Console logins: create, find, check a password (scrypt, parameters stored with the hash), list, remove.

How it works: a password is hashed with `hashlib.scrypt` and a fresh 16-byte salt; the stored text
`scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>` carries its own parameters, so they can be raised later
without invalidating old hashes. Checking compares in constant time. Passwords are never logged.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select

from engine.store.database import Store
from engine.store.errors import NotFound
from engine.store.models import AgentRow, WebUserRow

log = logging.getLogger(__name__)
ROLES = ("agent", "supervisor", "admin")
LANGUAGES = ("zh", "en")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt's cost does not depend on it, but a bound keeps requests small
_USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,32}$")


@dataclass(frozen=True)
class WebUser:
    """A console login as the web app sees it (never with its hash)."""

    id: str
    role: str
    agent_id: str | None
    language: str | None
    active: bool

    def has_role(self, *roles: str) -> bool:
        """admin includes supervisor; supervisor does not include agent (a supervisor has no phone queue)."""
        return self.role in roles or (self.role == "admin" and "supervisor" in roles)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The stored form of a password: scrypt with a random salt, parameters included."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=32)
    return "$".join(("scrypt", str(n), str(r), str(p), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time compare); False for any malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        n_, r_, p_ = int(n), int(r), int(p)
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=n_, r=r_, p=p_,
                                maxmem=128 * r_ * n_ * 2, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_password_rules(password: str) -> str:
    """Why a new password is refused ("" when acceptable)."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"the password must have at most {MAX_PASSWORD} characters"
    return ""


# A dummy hash so an unknown user id costs the same time as a wrong password (no user enumeration).
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class UserRepository:
    """Console users by login id."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, user_id: str, password: str, role: str = "agent", agent_id: str | None = None,
            language: str | None = None) -> WebUser:
        """Create (or replace the password, role and language of) a login. Agents are linked to their agent
        row (by default the agent with the same id), which must exist."""
        if not _USER_ID.match(user_id or ""):
            raise ValueError(f"user id must be 1..32 letters, digits or _.@-, got {user_id!r}")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        problem = check_password_rules(password)
        if problem:
            raise ValueError(problem)
        if role == "agent" and agent_id is None:
            agent_id = user_id
        stored = hash_password(password)
        with self.store.session() as s:
            if agent_id is not None and s.get(AgentRow, agent_id) is None:
                raise NotFound(f"no agent {agent_id!r}: add it first with `jinqiao agents add {agent_id}`")
            row = s.get(WebUserRow, user_id)
            if row is None:
                row = WebUserRow(id=user_id, created_at=dt.datetime.now(dt.timezone.utc))
                s.add(row)
            row.role, row.agent_id, row.password_hash, row.language, row.active = role, agent_id, stored, language, True
            s.flush()
            log.info("web user %s: saved with role %s", user_id, role)
            return _user(row)

    def get(self, user_id: str) -> WebUser | None:
        with self.store.session() as s:
            row = s.get(WebUserRow, user_id)
            return _user(row) if row is not None else None

    def authenticate(self, user_id: str, password: str, at: dt.datetime | None = None,
                     verify: Callable[[str, str], bool] = verify_password) -> WebUser | None:
        """The active user whose password this is, else None (the same work is done for unknown ids).

        `verify` checks a password against a stored hash; the web app passes one that runs scrypt off the
        event loop (the store is read and written here, in the caller's greenlet)."""
        if len(password) > MAX_PASSWORD:
            return None
        with self.store.session() as s:
            row = s.get(WebUserRow, user_id) if _USER_ID.match(user_id or "") else None
            stored = row.password_hash if row is not None and row.active else None
        if stored is None:
            verify(password, _DUMMY_HASH)
            return None
        if not verify(password, stored):
            return None
        with self.store.session() as s:
            row = s.get(WebUserRow, user_id)
            if row is None or not row.active:
                return None
            row.last_login_at = at or dt.datetime.now(dt.timezone.utc)
            return _user(row)

    def set_language(self, user_id: str, language: str | None) -> None:
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        with self.store.session() as s:
            row = s.get(WebUserRow, user_id)
            if row is None:
                raise NotFound(f"no web user {user_id!r}")
            row.language = language

    def list(self) -> list[WebUser]:
        with self.store.session() as s:
            return [_user(r) for r in s.scalars(select(WebUserRow).order_by(WebUserRow.id))]

    def remove(self, user_id: str) -> bool:
        """Deactivate a login (sessions end at their next request); False when there is none."""
        with self.store.session() as s:
            row = s.get(WebUserRow, user_id)
            if row is None or not row.active:
                return False
            row.active = False
            return True


def _user(row: WebUserRow) -> WebUser:
    return WebUser(row.id, row.role, row.agent_id, row.language, bool(row.active))
