"""A predictive campaign on the simulator's called-party population, and its ground truth (shared by the e2e test
and benchmarks/dialer_e2e.py)."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from engine.dialer.service import DialerSettings
from engine.sim.population import Population
from engine.store.repos.dial_attempts import CampaignFigures, DialAttemptRepository
from tests.dialer.simrig import DialerRig, utc

YAML = """name: predictive_e2e
mode: predictive
queue: sales
ring_timeout: 25s
caller_id: '4008001000'
safe_harbour: {message: 很抱歉，坐席正忙，我们稍后再联系您。, within: 2s}
answering_machine: {detect: true, action: hangup}
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
  machine: {delay: 10m, max_attempts: 0}
  failed: {delay: 10m, max_attempts: 0}
  dropped: {delay: 10m, max_attempts: 0}
  interrupted: {delay: 10m, max_attempts: 0}
"""
CAUSE_OUTCOME = {"USER_BUSY": "busy", "UNALLOCATED_NUMBER": "invalid", "NO_ANSWER": "no_answer"}


@dataclass
class Run:
    figures: CampaignFigures
    truth: dict[str, Any]
    seconds: float


def ground_truth(rig: DialerRig) -> dict[str, Any]:
    """What the simulator did: outcomes per attempt from the population log, drops and talk from the switch."""
    outcomes: Counter = Counter()
    live = dropped = 0
    for attempt in rig.sim.population_log:
        leg = rig.truth.legs.get(attempt.uuid, {})
        if attempt.answered_at is None:
            outcomes[CAUSE_OUTCOME.get(attempt.hangup_cause, "failed")] += 1
        elif attempt.machine and attempt.avmd_beep_at is not None:
            outcomes["machine"] += 1
        elif "bridged" in leg:
            outcomes["answered"] += 1
            live += 1
        elif leg.get("ended", float("inf")) - attempt.answered_at < 2.0:  # the callee left within the safe harbour
            outcomes["interrupted"] += 1
            live += 1
            dropped += 1
        else:
            outcomes["dropped"] += 1
            live += 1
            dropped += 1
    return {"attempts": len(rig.sim.population_log), "outcomes": dict(outcomes), "live_answers": live,
            "abandoned": dropped, "talk_seconds": round(rig.truth.talk_seconds(), 3)}


def run_predictive(tmp_path, contacts: int, agents: int = 20, seed: int = 7, pacing: str = "jinqiao",
                   timeout: float = 600.0, time_scale: float = 0.05) -> Run:
    rig = DialerRig(tmp_path, agents=agents, wrap_up=0.0, time_scale=time_scale,
                    settings=DialerSettings(gateway="sim", pacing=pacing, tick_s=0.05, poll_s=0.1, publish_s=0.5))
    try:
        rig.sim.set_population(Population(answer=0.3, machine=0.1, busy=0.05, unallocated=0.02, seed=seed))
        numbers = [f"+86137{seed:02d}{i:06d}" for i in range(contacts)]
        cid = rig.campaign(YAML, numbers)
        started = time.monotonic()
        rig.launch(cid)
        rig.dialer.start()
        rig.wait_done(cid, contacts, timeout=timeout)
        seconds = time.monotonic() - started
        rig.sim.wait_until(lambda: all(a.done for a in rig.sim.population_log), 10)
        figures = DialAttemptRepository(rig.store).figures(cid, utc(0))
        return Run(figures, ground_truth(rig), seconds)
    finally:
        rig.close()


def report_of(f: CampaignFigures) -> dict[str, Any]:
    return {"attempts": f.attempts, "outcomes": f.outcomes, "live_answers": f.live_answers, "abandoned": f.abandoned,
            "talk_seconds": round(f.talk_seconds, 3)}
