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

_by_number = (select(CustomerPhoneRow.customer_id, CustomerPhoneRow.e164)
              .where(CustomerPhoneRow.e164.in_(bindparam("numbers", expanding=True))))
_customer = select(CustomerRow.__table__).where(CustomerRow.id == bindparam("cid"))


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
        with self.store.engine.connect() as conn:
            matches = conn.execute(_by_number, {"numbers": variants}).all()
            if not matches:
                log.debug("screen-pop: no customer for %s", mask(raw_caller_id))
                return None
            rank = {number: i for i, number in enumerate(variants)}
            customer_id, matched = min(matches, key=lambda m: rank.get(m.e164, len(rank)))
            return self._context(conn, customer_id, matched)

    def for_customer(self, customer_id: int) -> CustomerContext | None:
        """The same context for a customer already identified (e.g. by account number or transfer)."""
        with self.store.engine.connect() as conn:
            return self._context(conn, customer_id, None)

    def _context(self, conn, customer_id: int, matched: str | None) -> CustomerContext | None:  # type: ignore[no-untyped-def]
        row = conn.execute(_customer, {"cid": customer_id}).first()
        if row is None:
            return None
        phones = tuple(conn.execute(select(CustomerPhoneRow.e164).where(CustomerPhoneRow.customer_id == customer_id)
                                    .order_by(CustomerPhoneRow.position)).scalars())
        customer = to_record(Customer, row._mapping, phones=phones, tags=tuple(row.tags or ()))
        interactions = conn.execute(
            select(InteractionRow.__table__).where(InteractionRow.customer_id == customer_id)
            .order_by(InteractionRow.arrived_at.desc(), InteractionRow.id.desc()).limit(self.recent)).all()
        callbacks = conn.execute(
            select(CallbackRow.__table__).where(CallbackRow.status == CallbackStatus.OPEN.value,
                                                or_(CallbackRow.customer_id == customer_id, CallbackRow.number.in_(phones)))
            .order_by(CallbackRow.due_at, CallbackRow.id)).all()
        agent_ids = {a for a in (customer.owner_agent_id, customer.last_agent_id) if a}
        agents: dict[str, Agent] = {}
        if agent_ids:
            for agent in conn.execute(select(AgentRow.__table__).where(AgentRow.id.in_(agent_ids))):
                agents[agent.id] = to_record(Agent, agent._mapping, skills={})
        return CustomerContext(
            customer=customer,
            matched_number=matched or (phones[0] if phones else ""),
            recent_interactions=tuple(to_record(Interaction, r._mapping) for r in interactions),
            open_callbacks=tuple(to_record(Callback, r._mapping) for r in callbacks),
            owner_agent=agents.get(customer.owner_agent_id or ""),
            last_agent=agents.get(customer.last_agent_id or ""),
        )
