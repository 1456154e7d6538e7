"""Who is calling the API: an integration token (Bearer) or a signed-in console user, and what they may do.

A request with an `Authorization` header is judged by that header alone (a console cookie sent along is
ignored); without one, the console session counts, with the scopes of the user's role. Tokens and agents
bound to an agent (`agent_id`) see only that agent's own calls and recordings: asking for another
agent's call or recording answers 404, as if it did not exist.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.api.errors import ApiError
from engine.store.database import Store
from engine.store.repos.tokens import TokenRepository

RESOURCES = {
    "customers": ("read", "write"), "interactions": ("read",), "recordings": ("read",), "agents": ("read",),
    "queues": ("read",), "campaigns": ("read", "write"), "callbacks": ("read", "write"), "dnc": ("read", "write"),
    "reports": ("read",),
}
SCOPES = tuple(f"{resource}:{access}" for resource, accesses in RESOURCES.items() for access in accesses)
_AGENT_SCOPES = frozenset({"customers:read", "customers:write", "interactions:read", "recordings:read",
                           "queues:read", "callbacks:read", "callbacks:write", "dnc:read", "dnc:write"})
ROLE_SCOPES = {"agent": _AGENT_SCOPES, "supervisor": frozenset(SCOPES), "admin": frozenset(SCOPES)}


@dataclass(frozen=True)
class Principal:
    """The caller: `own_agent` set means limited to that agent's calls (an agent, or a token bound to one)."""

    kind: str  # "token" | "session"
    name: str
    scopes: frozenset[str]
    own_agent: str | None = None
    limited: bool = False

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ApiError(403, "forbidden", f"this {'token' if self.kind == 'token' else 'role'} lacks the "
                                             f"scope {scope}")

    def sees_agent(self, agent_id: str | None) -> bool:
        return not self.limited or (agent_id is not None and agent_id == self.own_agent)


def expand_scopes(wanted: tuple[str, ...] | list[str]) -> list[str]:
    """Checked scopes; `*` is every scope there is now, `RESOURCE:*` every access to one resource."""
    out: set[str] = set()
    for scope in wanted:
        scope = scope.strip()
        if scope == "*":
            out.update(SCOPES)
            continue
        resource, _, access = scope.partition(":")
        if resource not in RESOURCES:
            raise ValueError(f"unknown scope {scope!r}: resources are {', '.join(RESOURCES)}")
        if access == "*":
            out.update(f"{resource}:{a}" for a in RESOURCES[resource])
        elif access in RESOURCES[resource]:
            out.add(scope)
        else:
            raise ValueError(f"unknown scope {scope!r}: {resource} has {', '.join(RESOURCES[resource])}")
    return sorted(out)


def identify(headers: Any, user: Any, store: Store, now: dt.datetime) -> Principal:
    """The caller of this request, or ApiError 401."""
    header = headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "unauthorized", "expected Authorization: Bearer <token>")
        token = TokenRepository(store).authenticate(value.strip(), now)
        if token is None:
            raise ApiError(401, "unauthorized", "unknown, expired or revoked token")
        return Principal("token", f"token {token.id} ({token.name})", frozenset(token.scopes), token.agent_id,
                         token.agent_id is not None)
    if user is None:
        raise ApiError(401, "unauthorized", "sign in, or send Authorization: Bearer <token>")
    limited = user.role == "agent"
    return Principal("session", f"user {user.id}", ROLE_SCOPES.get(user.role, frozenset()),
                     user.agent_id if limited else None, limited)
