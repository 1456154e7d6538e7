"""Compliance: every rule refuses with its name and reason; facts come from the store; decisions are logged."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from engine.dialer.compliance import CompliancePolicy, DialRequest, decide, next_open, policy_from_config
from engine.ivr.hours import parse_weekly
from engine.store.models import ContactAttemptRow, NumberClaimRow
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.compliance import ComplianceRepository, NumberFacts
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.dnc import DncRepository
from engine.yamlsrc import load_text
from tests.store.conftest import db_url, store  # noqa: F401  (fixtures: SQLite and PostgreSQL)

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # Monday 11:00 in Shanghai
CN = "+8613812340000"
US = "+12125550123"  # New York: Sunday 22:00 at T0
POLICY = CompliancePolicy()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def facts(**values) -> NumberFacts:
    return NumberFacts(number=values.pop("number", CN), **values)


def test_a_clean_number_in_hours_is_allowed_with_the_callee_local_time() -> None:
    decision = decide(DialRequest(CN), facts(), POLICY, T0)
    assert decision.allowed and decision.rule == "ok" and "Mon 11:00 Asia/Shanghai" in decision.reason


@pytest.mark.parametrize("request_, fact, rule, final", [
    (DialRequest(CN), dict(dnc_list="black", dnc_reason="asked"), "dnc_black", True),
    (DialRequest(CN, kind="manual"), dict(dnc_list="black"), "dnc_black", True),
    (DialRequest(CN, kind="callback"), dict(dnc_list="black"), "dnc_black", True),
    (DialRequest(CN, marketing=True), dict(dnc_list="grey"), "dnc_grey", True),
    (DialRequest(CN), dict(do_not_disturb=True), "do_not_disturb", True),
    (DialRequest(CN, marketing=True), dict(marketing_consent=False), "no_consent", True),
    (DialRequest(CN), dict(in_flight=True), "in_flight", False),
    (DialRequest(CN), dict(claimed_by=7), "other_campaign", False),
    (DialRequest(CN), dict(attempts_24h=3), "attempts_24h", False),
    (DialRequest(CN, marketing=True), dict(marketing_contacts_7d=2), "marketing_7d", False),
    (DialRequest("12345"), dict(), "invalid_number", True),
])
def test_each_rule_refuses_by_name(request_: DialRequest, fact: dict, rule: str, final: bool) -> None:
    decision = decide(request_, facts(**fact), POLICY, T0)
    assert not decision.allowed and decision.rule == rule and decision.final is final
    assert decision.reason
    assert final or decision.retry_at is not None and decision.retry_at > T0


def test_restrictions_that_do_not_apply_let_the_call_through() -> None:
    assert decide(DialRequest(CN, marketing=False), facts(dnc_list="grey"), POLICY, T0).allowed  # service call
    assert decide(DialRequest(CN, kind="callback"), facts(do_not_disturb=True), POLICY, T0).allowed  # they asked
    assert decide(DialRequest(CN, marketing=True), facts(marketing_consent=None), POLICY, T0).allowed
    strict = CompliancePolicy(require_marketing_consent=True)
    assert decide(DialRequest(CN, marketing=True), facts(marketing_consent=None), strict, T0).rule == "no_consent"
    assert decide(DialRequest(CN, marketing=False), facts(marketing_contacts_7d=9), POLICY, T0).allowed


def test_calling_hours_are_the_callees_local_time_and_the_retry_is_when_they_open() -> None:
    decision = decide(DialRequest(US), facts(number=US), POLICY, T0)
    assert decision.rule == "calling_hours" and "America/New_York" in decision.reason
    assert decision.retry_at == dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.timezone.utc)  # Monday 08:00 in New York
    # The customer's own zone wins over the number's.
    assert decide(DialRequest(US), facts(number=US, timezone="Asia/Shanghai"), POLICY, T0).allowed


def test_campaign_windows_apply_to_campaign_dials_only_and_both_must_be_open() -> None:
    windows = parse_weekly({"mon-fri": "14:00-18:00"})[0]
    campaign = decide(DialRequest(CN, windows=windows), facts(), POLICY, T0)
    assert campaign.rule == "campaign_window"
    assert campaign.retry_at == dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.timezone.utc)  # 14:00 Shanghai
    assert decide(DialRequest(CN, kind="manual", windows=windows), facts(), POLICY, T0).allowed
    late = parse_weekly({"daily": "20:00-23:00"})[0]  # only 20:00-21:00 is also legal
    assert next_open(T0, SHANGHAI, POLICY.calling_hours, frozenset(), late) == \
        dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)


def test_holidays_close_the_calling_hours() -> None:
    policy = CompliancePolicy(holidays=frozenset({dt.date(2026, 3, 2)}))
    decision = decide(DialRequest(CN), facts(), policy, T0)
    assert decision.rule == "calling_hours"
    assert decision.retry_at == dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.timezone.utc)  # Tuesday 08:00


def test_policy_from_config_with_located_errors() -> None:
    doc = load_text("dialer:\n  compliance:\n    max_attempts_per_24h: 0\n", "jq.yaml")
    with pytest.raises(ValueError, match=r"jq.yaml:3:5: dialer.compliance.max_attempts_per_24h"):
        policy_from_config(doc.data["dialer"]["compliance"], doc)
    doc = load_text("dialer:\n  compliance:\n    calling_hours: {mon-sun: '09:00-20:00'}\n"
                    "    holidays: [2026-10-01]\n    require_marketing_consent: true\n", "jq.yaml")
    policy = policy_from_config(doc.data["dialer"]["compliance"], doc)
    assert policy.require_marketing_consent and dt.date(2026, 10, 1) in policy.holidays
    with pytest.raises(ValueError, match="unknown setting"):
        policy_from_config({"max_calls": 3})


# -- facts from the store (SQLite and PostgreSQL) ----------------------------------------------------------

def test_store_facts_cover_dnc_with_expiry_caps_across_campaigns_claims_and_preferences(store) -> None:
    campaigns = CampaignRepository(store)
    a, b = campaigns.create("a"), campaigns.create("b")
    dnc = DncRepository(store)
    dnc.add("13812340001", "black", "asked", expires_at=T0 + dt.timedelta(days=1), now=T0)
    dnc.add("13812340002", "grey", "complained", now=T0)
    dnc.add("13812340003", "black", "old", expires_at=T0 - dt.timedelta(seconds=1), now=T0 - dt.timedelta(days=9))
    CustomerRepository(store).upsert(["13812340004"], do_not_disturb=True, marketing_consent=False,
                                     timezone="Asia/Urumqi")
    with store.session() as s:
        for hours, campaign, purpose, live in ((1, a.id, "marketing", True), (2, b.id, "service", False),
                                               (30, a.id, "marketing", True), (200, b.id, "marketing", True)):
            s.add(ContactAttemptRow(number="+8613812340005", campaign_id=campaign, at=T0 - dt.timedelta(hours=hours),
                                    outcome="answered", purpose=purpose, live=live, state="done"))
        s.add(ContactAttemptRow(number="+8613812340006", at=T0 - dt.timedelta(minutes=1), outcome="dialing",
                                purpose="manual", state="dialing"))
        s.add(NumberClaimRow(number="+8613812340007", campaign_id=b.id, holder="x", until=T0 + dt.timedelta(minutes=1)))
    numbers = [f"+861381234000{i}" for i in range(8)]
    got = ComplianceRepository(store).facts(numbers, T0, campaign_id=a.id)
    assert got["+8613812340000"] == NumberFacts("+8613812340000")
    assert got["+8613812340001"].dnc_list == "black" and got["+8613812340001"].dnc_reason == "asked"
    assert got["+8613812340002"].dnc_list == "grey"
    assert got["+8613812340003"].dnc_list is None  # expired
    pref = got["+8613812340004"]
    assert pref.do_not_disturb and pref.marketing_consent is False and pref.timezone == "Asia/Urumqi"
    assert pref.customer_id is not None
    assert got["+8613812340005"].attempts_24h == 2 and got["+8613812340005"].marketing_contacts_7d == 2
    assert got["+8613812340006"].in_flight
    assert got["+8613812340007"].claimed_by == b.id
    assert ComplianceRepository(store).facts(["+8613812340007"], T0, campaign_id=b.id)["+8613812340007"].claimed_by \
        is None  # its own claim does not exclude a campaign
    assert ComplianceRepository(store).facts(["+8613812340007"], T0 + dt.timedelta(minutes=2), a.id)[
        "+8613812340007"].claimed_by is None  # expired claim
