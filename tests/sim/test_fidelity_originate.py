"""Fidelity: originate outcomes, uuid_bridge, recording and call control replayed from captures 04, 06b, 08, 12."""
from __future__ import annotations

import pytest

from .replay import Replayer, normalise
from .shapes import non_event_types, reply_texts
from .test_fidelity_calls import PUBLIC_PRELUDE, assert_same_shapes, capture


def settle(sim):
    def _wait(rep) -> None:
        assert sim.wait_until(lambda: not sim.channels, 10)
    return _wait


def check(sim, mine, real) -> None:
    assert non_event_types(mine) == non_event_types(real)
    assert [normalise(t) for t in reply_texts(mine)] == [normalise(t) for t in reply_texts(real)]
    my_bodies = [normalise(f.body.decode()) for f in mine if f.content_type == "api/response"]
    real_bodies = [normalise(f.body.decode()) for f in real if f.content_type == "api/response"]
    assert my_bodies == real_bodies
    assert_same_shapes(mine, real)


@pytest.mark.parametrize("scenario,setup", [
    ("04a-originate-unregistered", lambda s: s.add_endpoint("1005", registered=False)),
    ("04b-originate-answered", lambda s: s.add_endpoint("1001", answer_after=0.5)),
    ("04c-originate-busy", lambda s: s.set_destination("busy", "busy", after=0.2)),
    ("04d-originate-no-answer", lambda s: s.set_destination("ring", "no_answer")),
    ("04e-originate-rejected", lambda s: (s.set_destination("nobody", "unallocated", after=0.1),
                                          s.set_destination("away", "no_user_response", after=0.1),
                                          s.set_destination("decline", "rejected", after=0.1))),
    ("04f-originate-chosen-uuid", lambda s: s.add_endpoint("1001", answer_after=0.5)),
])
def test_originate_outcome_matches_capture(sim, scenario, setup):
    real = capture(scenario)
    setup(sim)
    rep = Replayer(sim, scenario, real=real)
    mine = rep.run(before_exit=settle(sim))
    check(sim, mine, real)


def test_uuid_bridge_of_two_parked_legs_matches_capture_06b(sim):
    real = capture("06b-uuid-bridge")
    sim.set_destination("legA", "answer", after=0.3)
    sim.set_destination("legB", "answer", after=0.3)
    mine = Replayer(sim, "06b-uuid-bridge", real=real).run(before_exit=settle(sim))
    check(sim, mine, real)


def parked_call(sim, real, capture_test: str):
    sim.route(capture_test, apps=PUBLIC_PRELUDE + [("set", "capture_test=" + capture_test), ("answer", ""),
                                                  ("park", "")])
    uid = next(f.ev["Unique-ID"] for f in real if f.event is not None and "Unique-ID" in f.ev)

    def _place(rep) -> None:
        call = sim.place_call(capture_test, "01011", "ESL Capture")
        rep.bind(uid, call.uuid)
        assert sim.wait_until(lambda: "CHANNEL_PARK" in call.events, 5)
    return _place


def test_recording_on_parked_call_matches_capture_08(sim, tmp_path):
    real = capture("08-recording")
    rep = Replayer(sim, "08-recording", real=real)
    mine = rep.run(hooks={3: parked_call(sim, real, "5003")}, before_exit=settle(sim), tmp_path=tmp_path)
    check(sim, mine, real)
    assert (tmp_path / "capture_08_uuid_record.wav").exists()
    assert (tmp_path / "capture_08_record_session.wav").exists()
