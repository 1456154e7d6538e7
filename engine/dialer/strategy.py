"""Strategy table: which dial mode and which agents a customer segment gets (VIP → preview to the owner first).

How it works: a campaign's `strategy` is an ordered list of rules, each naming segments, a mode and
an offer order (`owner`, `last_agent`, `group`). `route()` picks the first rule whose segments include
the customer's, else the campaign's own mode with the whole group, and turns the offer order into
concrete targets: the customer's owner agent, then the agent who served them last, then anyone in the
campaign's queue or agent group (duplicates and unknown agents dropped).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OFFER_TARGETS = ("owner", "last_agent", "group")


@dataclass(frozen=True)
class StrategyRule:
    """Customers in `segments` are dialed in `mode`, offered to agents in `offer` order."""

    segments: frozenset[str]
    mode: str
    offer: tuple[str, ...] = ("group",)


@dataclass(frozen=True)
class OfferTarget:
    """Who to offer a contact to: one agent (`agent_id`) or anyone in the campaign's group."""

    kind: str  # "agent" | "group"
    agent_id: str | None = None
    because: str = ""  # owner | last_agent | group


@dataclass(frozen=True)
class Route:
    """How to dial one customer: the mode and the agents to offer the call to, in order."""

    mode: str
    targets: tuple[OfferTarget, ...]
    rule_index: int | None = None  # which strategy rule matched (None: the campaign default)


def route(rules: tuple[StrategyRule, ...], default_mode: str, customer: Any | None) -> Route:
    """The route for a customer (a store Customer, a mapping of its fields, or None for an unknown number)."""
    segment = _get(customer, "segment")
    segment = getattr(segment, "value", segment)
    for index, rule in enumerate(rules):
        if segment is not None and str(segment) in rule.segments:
            return Route(rule.mode, _targets(rule.offer, customer), index)
    return Route(default_mode, (OfferTarget("group", because="group"),), None)


def _targets(offer: tuple[str, ...], customer: Any | None) -> tuple[OfferTarget, ...]:
    out: list[OfferTarget] = []
    seen: set[str] = set()
    for step in offer:
        if step == "group":
            out.append(OfferTarget("group", because="group"))
            continue
        agent = _get(customer, "owner_agent_id" if step == "owner" else "last_agent_id")
        if agent and str(agent) not in seen:
            seen.add(str(agent))
            out.append(OfferTarget("agent", str(agent), because=step))
    return tuple(out) or (OfferTarget("group", because="group"),)


def _get(customer: Any | None, name: str) -> Any:
    if customer is None:
        return None
    if isinstance(customer, dict):
        return customer.get(name)
    return getattr(customer, name, None)
