"""Fidelity: the hang-up variables (cause, SIP status, disposition) on CHANNEL_HANGUP and _COMPLETE, vs captures."""
from __future__ import annotations

import pytest

from engine.sim import Hangup, Press

from .helpers import connect_inbound
from .test_fidelity_calls import capture
from .test_fidelity_outbound import outbound_call, replay

HANGUP_VARS = ("variable_hangup_cause", "variable_hangup_cause_q850", "variable_sip_term_status",
               "variable_proto_specific_hangup_cause", "variable_sip_term_cause", "variable_sip_hangup_disposition")


def hangup_vars(frames) -> dict[str, dict[str, str]]:
    """Event name -> the hang-up variables it carried (first occurrence of each event)."""
    out: dict[str, dict[str, str]] = {}
    for fr in frames:
        if fr.event is None or fr.ev["Event-Name"] not in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            continue
        out.setdefault(fr.ev["Event-Name"], {k: fr.ev[k] for k in HANGUP_VARS if k in fr.ev})
    return out


def test_a_caller_bye_carries_sip_200_on_hangup_and_recv_bye_on_the_cdr_like_capture_05b(sim, engine_listener,
                                                                                          tmp_path):
    real = capture("05b-outbound-caller-hangup-nolinger", "outbound")
    obs, call, peer = outbound_call(sim, engine_listener, [Hangup(at=3.0)])
    replay(peer, "05b-outbound-caller-hangup-nolinger", call.uuid, tmp_path)
    assert peer.wait_closed()
    expected = hangup_vars(real)
    assert expected["CHANNEL_HANGUP"]["variable_sip_term_status"] == "200"
    assert hangup_vars(peer.log) == expected


def test_a_call_the_engine_hangs_up_has_no_sip_status_and_send_bye_like_capture_05a(sim, engine_listener, tmp_path):
    real = capture("05a-outbound-full", "outbound")
    script = [Press("123#", at=1.0, gap=0.4, during="play_and_get_digits")]
    obs, call, peer = outbound_call(sim, engine_listener, script)
    replay(peer, "05a-outbound-full", call.uuid, tmp_path)
    notice = peer.next()
    while notice.content_type != "text/disconnect-notice":
        notice = peer.next()
    peer.close()
    expected = hangup_vars(real)
    assert "variable_sip_term_status" not in expected["CHANNEL_HANGUP_COMPLETE"]
    assert hangup_vars(peer.log) == expected


def test_a_caller_who_cancels_before_answer_is_recv_cancel_with_487(sim):
    sim.route("5999", apps=[("sleep", "60000")])
    call = sim.place_call("5999", "01011")
    assert sim.wait_until(lambda: call.channel.current_app == "sleep", 5)
    call.hangup("ORIGINATOR_CANCEL")
    assert call.wait_destroyed(5)
    v = call.variables
    assert (v["sip_hangup_disposition"], v["sip_invite_failure_status"], v["hangup_cause"]) == \
        ("recv_cancel", "487", "ORIGINATOR_CANCEL")
    assert "sip_term_status" not in v


@pytest.fixture
def esl(sim):
    peer = connect_inbound(sim.address)
    yield peer
    peer.close()


def test_an_agent_phone_that_hangs_up_sends_bye_so_its_leg_reports_sip_200_and_recv_bye(sim, esl):
    sim.add_endpoint("3002", answer_after=0.1, hangup_after=0.3)
    gone = {}
    sim.switch.on_channel_destroy.append(lambda channel: gone.setdefault(channel.uuid, channel))
    assert esl.cmd("api originate {origination_uuid=h1}user/3002 &park()").body == b"+OK h1\n"
    assert sim.wait_until(lambda: "h1" in gone, 5)  # the phone may hang up before the reply arrives
    leg = gone["h1"]
    v = leg.variables
    assert (v["hangup_cause"], v["sip_term_status"], v["proto_specific_hangup_cause"], v["sip_hangup_disposition"]) \
        == ("NORMAL_CLEARING", "200", "sip:200", "recv_bye")
