"""Screen-pop: everything an agent's screen shows about a caller, from any caller-ID format, in one call.

How it works: the raw caller ID is turned into its possible E.164 forms (phones.lookup_variants),
matched on the unique index of customer_phones, then a handful of indexed Core queries fetch the
customer, their numbers, last interactions, open callbacks and the owner/last agents inside one
read transaction. Core rows (not ORM objects) keep the per-lookup cost well under a millisecond.
"""
from __future__ import annotations

import logging

from sqlalchemy import bindparam, or_, select

from engine.store.database import Store
from engine.store.models import AgentRow, CallbackRow, CustomerPhoneRow, CustomerRow, InteractionRow
from engine.store.phones import lookup_variants, mask
from engine.store.records import Agent, Callback, CallbackStatus, Customer, CustomerContext, Interaction
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)
RECENT_INTERACTIONS = 5

# Statements are built once: building SQL expressions per call would cost more than running them.
_phone = CustomerPhoneRow.__table__.c
_by_number = select(_phone.customer_id, _phone.e164).where(_phone.e164.in_(bindparam("numbers", expanding=True)))
_customer = select(CustomerRow.__table__).where(CustomerRow.__table__.c.id == bindparam("cid"))
_phones = select(_phone.e164).where(_phone.customer_id == bindparam("cid")).order_by(_phone.position)
_ix = InteractionRow.__table__.c
_interactions = (select(InteractionRow.__table__).where(_ix.customer_id == bindparam("cid"))
                 .order_by(_ix.arrived_at.desc(), _ix.id.desc()).limit(bindparam("n")))
_cb = CallbackRow.__table__.c
_callbacks = (select(CallbackRow.__table__)
              .where(_cb.status == CallbackStatus.OPEN.value,
                     or_(_cb.customer_id == bindparam("cid"),
                         _cb.number.in_(select(_phone.e164).where(_phone.customer_id == bindparam("cid")))))
              .order_by(_cb.due_at, _cb.id))
_agents = select(AgentRow.__table__).where(AgentRow.__table__.c.id.in_(bindparam("ids", expanding=True)))


class ScreenPop:
    """Look up the context of a caller for routing and for the agent's screen."""

    def __init__(self, store: Store, recent: int = RECENT_INTERACTIONS) -> None:
        self.store = store
        self.recent = recent

    def lookup(self, raw_caller_id: str) -> CustomerContext | None:
        """The caller's context, or None when the number is unknown or not a phone number."""
        variants = lookup_variants(raw_caller_id, self.store.region)
        if not variants:
            return None
        with self.store.connection() as conn:
            matches = conn.execute(_by_number, {"numbers": variants}).all()
            if not matches:
                log.debug("screen-pop: no customer for %s", mask(raw_caller_id))
                return None
            rank = {number: i for i, number in enumerate(variants)}
            customer_id, matched = min(matches, key=lambda m: rank.get(m.e164, len(rank)))
            return self._context(conn, customer_id, matched)

    def for_customer(self, customer_id: int) -> CustomerContext | None:
        """The same context for a customer already identified (e.g. by account number or transfer)."""
        with self.store.connection() as conn:
            return self._context(conn, customer_id, None)

    def _context(self, conn, customer_id: int, matched: str | None) -> CustomerContext | None:  # type: ignore[no-untyped-def]
        row = conn.execute(_customer, {"cid": customer_id}).first()
        if row is None:
            return None
        phones = tuple(conn.execute(_phones, {"cid": customer_id}).scalars())
        customer = to_record(Customer, row._mapping, phones=phones, tags=tuple(row.tags or ()))
        interactions = conn.execute(_interactions, {"cid": customer_id, "n": self.recent}).all()
        callbacks = conn.execute(_callbacks, {"cid": customer_id}).all()
        agent_ids = sorted({a for a in (customer.owner_agent_id, customer.last_agent_id) if a})
        agents: dict[str, Agent] = {}
        if agent_ids:
            for agent in conn.execute(_agents, {"ids": agent_ids}):
                agents[agent.id] = to_record(Agent, agent._mapping, skills={})
        return CustomerContext(
            customer=customer,
            matched_number=matched or (phones[0] if phones else ""),
            recent_interactions=tuple(to_record(Interaction, r._mapping) for r in interactions),
            open_callbacks=tuple(to_record(Callback, r._mapping) for r in callbacks),
            owner_agent=agents.get(customer.owner_agent_id or ""),
            last_agent=agents.get(customer.last_agent_id or ""),
        )
