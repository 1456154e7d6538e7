"""Hang-up facts (cause, SIP status, disposition) read from real FreeSWITCH CHANNEL_HANGUP / _COMPLETE events."""
from __future__ import annotations

from engine.esl.events import Event, classify
from engine.esl.hangup import HangupFacts, hangup_facts
from engine.esl.protocol import Parser

from tests.conftest import CAPTURES


def facts_in(path: str) -> list[tuple[str, HangupFacts]]:
    frames = Parser().feed((CAPTURES / path / "from_fs.bin").read_bytes())
    events = [e for e in map(classify, frames) if isinstance(e, Event)]
    return [(e.name, hangup_facts(e)) for e in events if e.name.startswith("CHANNEL_HANGUP")]


def test_the_callers_bye_is_normal_clearing_with_sip_200_and_recv_bye_on_the_cdr():
    (hangup, cdr) = facts_in("05b-outbound-caller-hangup-nolinger/outbound")
    assert hangup == ("CHANNEL_HANGUP", HangupFacts("NORMAL_CLEARING", 200, ""))
    assert cdr == ("CHANNEL_HANGUP_COMPLETE", HangupFacts("NORMAL_CLEARING", 200, "recv_bye"))
    assert cdr[1].by_remote is True and hangup[1].merge(cdr[1]) == cdr[1]


def test_a_call_we_hang_up_has_a_cause_and_no_sip_status():
    (hangup, cdr) = facts_in("05a-outbound-full/outbound")
    assert hangup[1] == HangupFacts("NORMAL_CLEARING", None, "")
    assert cdr[1] == HangupFacts("NORMAL_CLEARING", None, "send_bye") and cdr[1].by_remote is False


def test_a_busy_agent_phone_is_user_busy_with_sip_486():
    found = facts_in("04c-originate-busy")
    assert found and all(f == HangupFacts("USER_BUSY", 486, "recv_refuse") for _, f in found)


def test_other_events_carry_no_facts():
    assert hangup_facts(Event("CHANNEL_ANSWER", {"Hangup-Cause": "X"})) == HangupFacts()
    assert not HangupFacts().known and HangupFacts().by_remote is None
