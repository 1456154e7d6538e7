"""Issue 9.8 end to end: a 20-agent predictive campaign on the simulator's called-party population, through real
ESL (originate with origination_uuid, outcomes, AMD by avmd::beep, safe harbour, bridge to agents), runs to
completion and its report equals the simulator's ground truth exactly. 2,000 contacts: benchmarks/dialer_e2e.py."""
from __future__ import annotations

from tests.dialer.e2e import report_of, run_predictive


def test_a_predictive_campaign_report_equals_the_simulators_ground_truth(tmp_path) -> None:
    run = run_predictive(tmp_path, contacts=200)
    report = report_of(run.figures)
    assert run.figures.in_flight == 0
    assert report == run.truth
    assert report["outcomes"].get("answered", 0) > 30 and report["outcomes"].get("machine", 0) > 0
