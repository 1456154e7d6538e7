"""The hopper: leases due contacts of a running campaign, checks compliance, and hands out crash-safe dials.

How it works, for one dialer instance (`holder`):
1. `fill()` leases up to n due contacts in the database (an atomic claim with owner and expiry), asks
   compliance about the whole batch (stage "lease") and gives refused contacts back (blocked, or due
   again when the rule allows a retry). The rest are ready to dial.
2. `begin()` is called right before each originate: compliance is asked again inside the transaction
   that writes the attempt (state "dialing"), so a DNC entry added since the lease still stops the
   dial, and a crash after the originate can never lose the attempt nor redial within the retry delay.
3. The dialing service reports `answered()`, `connected()` and finally `finish()` with the outcome;
   the campaign's retry rules decide when (or whether) the contact is due again.
4. `recover()` (at start and on every fill) concludes attempts a dead dialer left behind.
Manual dials and callbacks go through `ComplianceGate`, the same rules and the same log.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from engine.dialer.campaigns import CampaignConfig, from_stored
from engine.dialer.compliance import CompliancePolicy, Decision, DialRequest, decide
from engine.store.database import Store
from engine.store.errors import StoreConflict
from engine.store.phones import lookup_variants
from engine.store.records import Campaign, CampaignContact
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.compliance import ComplianceRepository, NumberFacts, decision_row
from engine.store.repos.dial_attempts import Begun, DialAttemptRepository

log = logging.getLogger(__name__)
DEFAULT_LEASE_S = 120.0


@dataclass(frozen=True)
class CampaignHandle:
    """A stored campaign with its parsed configuration."""

    record: Campaign
    config: CampaignConfig

    @property
    def id(self) -> int:
        return self.record.id


def load_handle(store: Store, name_or_id: str | int) -> CampaignHandle | None:
    """A campaign by name or id, with its configuration (None if there is no such campaign)."""
    repo = CampaignRepository(store)
    record = repo.get(name_or_id) if isinstance(name_or_id, int) else repo.by_name(str(name_or_id))
    if record is None:
        return None
    return CampaignHandle(record, from_stored(record.name, record.settings, record.mode, record.queue))


def request_for(contact: CampaignContact, config: CampaignConfig) -> DialRequest:
    return DialRequest(number=contact.number, kind="campaign", marketing=config.marketing,
                       campaign_id=contact.campaign_id, contact_id=contact.id, timezone=contact.timezone,
                       windows=config.windows)


class Hopper:
    """Leases, checks and hands out contacts for one dialer instance (see the module docstring)."""

    def __init__(self, store: Store, policy: CompliancePolicy, holder: str, lease_seconds: float = DEFAULT_LEASE_S,
                 on_decision: Callable[[str, Decision], None] | None = None) -> None:
        self.store = store
        self.policy = policy
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.campaigns = CampaignRepository(store)
        self.attempts = DialAttemptRepository(store)
        self.compliance = ComplianceRepository(store)
        self.on_decision = on_decision  # e.g. a timer for the benchmark; never required

    def status(self, campaign_id: int) -> str | None:
        record = self.campaigns.get(campaign_id)
        return record.status if record else None

    def fill(self, campaign: CampaignHandle, n: int, now: dt.datetime) -> list[CampaignContact]:
        """Lease up to n due contacts of a running campaign and keep those compliance allows now."""
        if n <= 0 or self.status(campaign.id) != "running":
            return []
        leased = self.campaigns.lease_due(campaign.id, self.holder, n, now, self.lease_seconds)
        if not leased:
            return []
        facts = self.compliance.facts([c.number for c in leased], now, campaign.id)
        ready, refusals, rows = [], [], []
        for contact in leased:
            decision = decide(request_for(contact, campaign.config), facts.get(contact.number), self.policy, now)
            rows.append(decision_row(contact.number, decision, "lease", now, campaign.id, contact.id))
            if decision.allowed:
                ready.append(contact)
            else:
                refusals.append((contact.id, decision.rule, decision.retry_at, decision.final))
        self.campaigns.defer(self.holder, refusals)
        self.compliance.record(rows)
        return ready

    def begin(self, campaign: CampaignHandle, contact: CampaignContact, now: dt.datetime) -> Begun:
        """Re-check and write the attempt; dial only when `.attempt` is not None (see module docstring)."""
        request = request_for(contact, campaign.config)

        def check(facts: NumberFacts) -> Decision:
            decision = decide(request, facts, self.policy, now)
            if self.on_decision is not None:
                self.on_decision(contact.number, decision)
            return decision

        try:
            return self.attempts.begin(contact.id, self.holder, now, check, guard=campaign.config.shortest_retry,
                                       lease_seconds=self.lease_seconds, purpose=campaign.config.purpose)
        except StoreConflict:  # another dialer claimed the number in the same instant (PostgreSQL)
            self.campaigns.release(contact.id, self.holder)
            return Begun(None, Decision(False, "other_campaign", "claimed concurrently"), None)

    def answered(self, attempt_id: int, now: dt.datetime, live: bool = True) -> None:
        self.attempts.mark_answered(attempt_id, now, live)

    def connected(self, attempt_id: int, now: dt.datetime, agent_id: str | None = None) -> None:
        self.attempts.mark_connected(attempt_id, now, agent_id)

    def finish(self, campaign: CampaignHandle, attempt_id: int, outcome: str, now: dt.datetime,
               talk_seconds: float | None = None, abandoned: bool | None = None,
               interaction_id: int | None = None) -> CampaignContact | None:
        """Conclude an attempt; the campaign's retry rules decide the contact's next step."""
        def plan(result: str, count: int, attempts: int) -> tuple[str, dt.datetime | None]:
            return campaign.config.next_step(result, count, attempts, now)

        return self.attempts.finish(attempt_id, outcome, now, plan, talk_seconds, abandoned, interaction_id)

    def release(self, contacts: list[CampaignContact]) -> None:
        """Give back contacts leased but not dialed (pause, stop, shutdown)."""
        for contact in contacts:
            self.campaigns.release(contact.id, self.holder)

    def renew(self, contact: CampaignContact, now: dt.datetime) -> bool:
        """Keep a contact whose call is still going (call before the lease runs out)."""
        return self.campaigns.renew_lease(contact.id, self.holder, now, self.lease_seconds)

    def recover(self, now: dt.datetime) -> int:
        """Conclude attempts of dialers that died; returns how many."""
        cache: dict[int, int] = {}

        def max_attempts(campaign_id: int) -> int:
            if campaign_id not in cache:
                handle = load_handle(self.store, campaign_id)
                cache[campaign_id] = handle.config.max_attempts if handle else 1
            return cache[campaign_id]

        return len(self.attempts.recover(now, max_attempts))


class ComplianceGate:
    """The same compliance rules for dials that are not campaign contacts: manual dials and callbacks."""

    def __init__(self, store: Store, policy: CompliancePolicy) -> None:
        self.store = store
        self.policy = policy
        self.attempts = DialAttemptRepository(store)

    def begin(self, number: str, kind: str, now: dt.datetime, marketing: bool = False,
              agent_id: str | None = None) -> Begun:
        """Decide (and log) a manual dial or callback; when allowed, the attempt is written: dial it."""
        if kind not in ("manual", "callback"):
            raise ValueError(f"kind must be manual or callback, got {kind!r}")
        variants = lookup_variants(number, self.store.region)
        e164 = variants[0] if variants else number
        request = DialRequest(number=e164, kind=kind, marketing=marketing)
        if not variants:
            decision = decide(request, None, self.policy, now)
            ComplianceRepository(self.store).record([decision_row(str(number)[:20], decision, kind, now)])
            return Begun(None, decision, None)
        return self.attempts.begin_direct(e164, kind, now, lambda facts: decide(request, facts, self.policy, now),
                                          agent_id)
