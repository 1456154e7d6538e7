"""The metric definitions on hand-made counts: both service-level variants, abandons with and without short
ones, occupancy vs utilisation, outbound rates and CSAT; an empty denominator gives None, never 0."""
from __future__ import annotations

from engine.reports import metrics as m


def test_service_level_counts_abandons_against_it_unless_short_ones_are_excluded() -> None:
    c = m.QueueCounts(offered=100, answered=80, abandoned=15, short_abandoned=5, answered_within_t=72, overflowed=5)
    assert m.service_level(c) == 0.72
    assert m.service_level(c, exclude_short_abandons=True) == 72 / 95
    assert m.abandoned(c) == 15 and m.abandoned(c, include_short=False) == 10
    assert m.abandon_rate(c) == 0.15 and m.abandon_rate(c, include_short=False) == 10 / 95
    assert c.in_progress == 0


def test_asa_and_aht_average_over_answered_calls_only() -> None:
    c = m.QueueCounts(offered=3, answered=2, abandoned=1, wait_answered_s=30.0, talk_s=400.0, wrap_up_s=60.0)
    assert m.average_speed_of_answer(c) == 15.0
    assert m.average_handle_time(c) == 230.0
    assert m.average_speed_of_answer(m.QueueCounts()) is None and m.service_level(m.QueueCounts()) is None


def test_occupancy_leaves_not_ready_out_utilisation_keeps_it_in() -> None:
    t = m.AgentTime(seconds={"available": 1000.0, "ringing": 100.0, "on-call": 2500.0, "wrap-up": 400.0,
                             "not-ready": 1000.0, "logged-out": 50000.0})
    assert m.logged_in_seconds(t) == 5000.0
    assert m.occupancy(t) == 3000.0 / 4000.0
    assert m.utilisation(t) == 3000.0 / 5000.0


def test_outbound_rates_and_the_abandon_limit() -> None:
    c = m.CampaignCounts(attempts=100, live_answers=40, connected=38, abandoned=1, right_party=30, successes=6)
    assert m.contact_rate(c) == 0.4 and m.right_party_contact_rate(c) == 0.3
    assert m.conversion_rate(c) == 0.2
    assert m.outbound_abandon_rate(c) == 0.025 <= m.MAX_OUTBOUND_ABANDON_RATE


def test_csat_average_and_top_two_box() -> None:
    scores = {5: 3, 4: 1, 2: 1}
    assert m.csat_average(scores) == 4.2
    assert m.csat_top2_box(scores) == 0.8
    assert m.csat_average({}) is None and m.csat_top2_box({}) is None
    assert m.ivr_containment(m.IvrCounts()) is None
    assert m.callbacks_kept(4, 3) == 0.75 and m.first_contact_resolution(0, 0) is None
