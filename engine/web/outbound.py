"""The console's outbound side: preview contacts, click-to-dial, campaign scripts on the card, and the
per-campaign wallboard with pause / resume; all through the dialer's own service calls.

How it works: preview and manual dials call `AgentFirstDialer` (compliance first; the agent's phone rings,
then the customer's). A dialled contact's card is put on the agent's screen as the call's card, so the
script and the customer stay in view while the phones ring. For a campaign call that reaches an agent
through the ACD (progressive / predictive), `enrich` adds the campaign's script for that contact to the
card being popped. The campaign figures (dial level, abandon rate today and over 30 days, progress) are
read from the store at most every CAMPAIGN_CACHE_S; pause and resume go through the same repository call
as `jinqiao campaign pause|resume`.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from engine.dialer.agent_first import DialRefused
from engine.store.database import Store
from engine.store.phones import mask
from engine.store.repos.campaigns import ACTIONS, CampaignRepository
from engine.store.repos.dial_attempts import DialAttemptRepository

from engine.web.console import ConsoleError

if TYPE_CHECKING:  # pragma: no cover
    from engine.web.console import Console

log = logging.getLogger(__name__)
SKIP_REASONS = ("wrong_number", "customer_busy", "not_now", "duplicate", "other")
CAMPAIGN_CACHE_S = 2.0
CAMPAIGN_ACTIONS = {name: ACTIONS[name] for name in ("pause", "resume")}  # what the wallboard offers
SHOWN_STATUSES = ("running", "paused", "done", "draft")
MAX_NUMBER = 32


class Outbound:
    """Preview, click-to-dial, campaign scripts and the campaign wallboard (see the module docstring)."""

    def __init__(self, dialer: Any, store: Store, console: "Console", *, clock: Callable[[], float] = time.time,
                 zone: Any = None) -> None:
        self.dialer = dialer  # engine.dialer.service.DialerService, or None when the engine has no dialer
        self.store = store
        self.console = console
        self.clock = clock
        self.zone = zone or dt.timezone.utc
        self.campaigns = CampaignRepository(store)
        self.attempts = DialAttemptRepository(store)
        self._cache: tuple[float, list[dict[str, Any]]] = (float("-inf"), [])

    def _agent_first(self) -> Any:
        agent_first = getattr(self.dialer, "agent_first", None)
        if agent_first is None:
            raise ConsoleError("no_dialer")
        return agent_first

    # ----- preview --------------------------------------------------------------------------------
    def preview_campaigns(self) -> list[str]:
        """Running preview campaigns an agent may ask a contact from."""
        if self.dialer is None:
            return []
        return [c.name for c in self.campaigns.list() if c.mode == "preview" and c.status == "running"]

    def preview(self, agent_id: str, campaign: str | None = None) -> dict[str, Any] | None:
        """The contact reserved for this agent (reserving the next due one of `campaign` when none is)."""
        agent_first = self._agent_first()
        held = agent_first.previews.get(agent_id)
        if held is None and campaign is None:
            return None
        if held is None:
            try:
                held = agent_first.preview_next(agent_id, campaign)
            except DialRefused as exc:
                raise ConsoleError("not_dialed", str(exc)) from None
        return self._preview_view(held)

    def _preview_view(self, held: Any) -> dict[str, Any]:
        contact = held.contact
        card = self.console.build_card({"call_id": "", "queue": held.campaign.config.queue or "",
                                        "caller_number": contact.number,
                                        "customer": {"id": contact.customer_id} if contact.customer_id else None})
        data = contact.data or {}
        if card.get("customer") is None and isinstance(data.get("name"), str):
            card["customer"] = {"name": data["name"], "segment": str(data.get("segment") or ""),
                                "value_tier": None, "tags": []}
        card.update(campaign=held.campaign.config.name, script=held.script,
                    contact_id=contact.id, attempts=contact.attempts, last_outcome=contact.last_outcome or "")
        return card

    def _script(self, campaign: Any, contact: Any, card: dict[str, Any], fallback: str = "") -> str:
        """The campaign's script for this contact: its record's fields, then the customer's, then the phone."""
        data = {k: v for k, v in (contact.data or {}).items() if k != "outcomes"}
        customer = {k: v for k, v in (card.get("customer") or {}).items()
                    if k in ("id", "name", "segment", "value_tier", "tags", "language", "account_no")}
        try:
            return campaign.config.render_script({**data, **customer, "phone": contact.number},
                                                 dt.datetime.now(self.zone))
        except Exception:
            log.exception("campaign %s: the agent script did not render", campaign.config.name)
            return fallback

    def preview_skip(self, agent_id: str, reason: str) -> None:
        if reason not in SKIP_REASONS:
            raise ConsoleError("skip_reason_required", f"reason: one of {', '.join(SKIP_REASONS)}")
        try:
            self._agent_first().preview_skip(agent_id, reason)
        except DialRefused as exc:
            raise ConsoleError("not_dialed", str(exc)) from None

    def preview_dial(self, agent_id: str) -> str:
        """Dial the reserved contact: the agent's phone rings first, then the customer's."""
        agent_first = self._agent_first()
        held = agent_first.previews.get(agent_id)
        if held is None:
            raise ConsoleError("not_dialed", "no contact is reserved for you")
        card = self._preview_view(held)
        try:
            call = agent_first.preview_dial(agent_id)
        except DialRefused as exc:
            raise ConsoleError("not_dialed", str(exc)) from None
        card["call_id"] = call.customer_leg
        self.console.show_outbound(agent_id, call.customer_leg, held.contact.number, card)
        return call.customer_leg

    # ----- click-to-dial --------------------------------------------------------------------------
    def manual_call(self, agent_id: str, number: str) -> str:
        """A call to `number` through the compliance engine; a refusal names the rule."""
        number = number.strip()
        if not number or len(number) > MAX_NUMBER:
            raise ConsoleError("bad_input", f"number: enter a phone number of at most {MAX_NUMBER} characters")
        try:
            call = self._agent_first().manual_call(agent_id, number)
        except DialRefused as exc:
            log.info("agent %s: manual call to %s refused (%s)", agent_id, mask(number), exc)
            raise ConsoleError("not_dialed", str(exc)) from None
        card = self.console.build_card({"call_id": call.customer_leg, "queue": "", "caller_number": call.number,
                                        "customer": None})
        card["campaign"] = ""
        self.console.show_outbound(agent_id, call.customer_leg, call.number, card)
        return call.customer_leg

    # ----- campaign calls through the ACD ---------------------------------------------------------
    def enrich(self, card: dict[str, Any], payload: dict[str, Any]) -> None:
        """Add the campaign and its script for this contact to the card of a campaign call being popped."""
        tracked = self.dialer.tracked(str(payload.get("call_id") or "")) if self.dialer is not None else None
        if tracked is None:
            return
        call = tracked[1]
        card.update(campaign=call.campaign.config.name, script=self._script(call.campaign, call.contact, card))

    # ----- wallboard ------------------------------------------------------------------------------
    def floor(self) -> list[dict[str, Any]]:
        """Per campaign: state, dial level, abandon rate today / 30 days, dialed and remaining contacts."""
        cached_at, rows = self._cache
        now = self.clock()
        if now - cached_at < CAMPAIGN_CACHE_S:
            return rows
        local = dt.datetime.fromtimestamp(now, self.zone)
        today = local.replace(hour=0, minute=0, second=0, microsecond=0)
        rows = []
        for c in self.campaigns.list():
            if c.status not in SHOWN_STATUSES:
                continue
            counts = self.campaigns.counts(c.id)
            total = sum(counts.values())
            remaining = counts.get("pending", 0)
            day, month = self.attempts.figures(c.id, today), self.attempts.figures(c.id, today - dt.timedelta(days=30))
            live = c.live or {}
            rows.append({"name": c.name, "mode": c.mode, "status": c.status, "queue": c.queue or "",
                         "dial_level": live.get("dial_level") if c.status == "running" else None,
                         "in_flight": live.get("in_flight", 0) if c.status == "running" else 0,
                         "abandon_today": _pct(day.abandoned, day.live_answers),
                         "abandon_30d": _pct(month.abandoned, month.live_answers),
                         "attempts_today": day.attempts, "dialed": total - remaining, "remaining": remaining,
                         "total": total, "progress": round(100 * (total - remaining) / total, 1) if total else 0.0})
        self._cache = (now, rows)
        return rows

    def change(self, name: str, action: str, by: str) -> str:
        """Pause or resume campaign `name` (the same store call as `jinqiao campaign pause|resume`)."""
        if action not in CAMPAIGN_ACTIONS:
            raise ConsoleError("bad_input", "action: must be pause or resume")
        record = self.campaigns.by_name(name)
        if record is None:
            raise ConsoleError("error", f"no campaign {name!r}")
        status, allowed = CAMPAIGN_ACTIONS[action]
        try:
            before, after = self.campaigns.change_status(record.id, status, allowed)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        log.info("campaign %s: %s -> %s by supervisor %s (wallboard)", name, before, after, by)
        self._cache = (float("-inf"), [])
        if self.dialer is not None:
            self.dialer.follow_campaigns()
        self.console.floor_changed()
        return after


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None

