"""`jinqiao demo`, outbound part: a short predictive campaign and an agentless reminder campaign, dialled by the
running engine against the simulator's called-party population, then their `campaign report`."""
from __future__ import annotations

import time
from typing import Any

import click

PREDICTIVE = """name: demo_predictive
mode: predictive
purpose: marketing
queue: sales
ring_timeout: 20s
caller_id: '4008001234'
answering_machine: {detect: true, action: hangup}
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
  machine: {delay: 10m, max_attempts: 0}
  failed: {delay: 10m, max_attempts: 0}
  dropped: {delay: 10m, max_attempts: 0}
"""
REMINDER = """name: demo_reminder
mode: agentless
purpose: collections
ivr_flow: overdue_reminder
ring_timeout: 20s
caller_id: '4008001234'
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
"""
# The dialer's settings for the demo: the simulator's gateway, calls allowed at any hour (the demo runs whenever).
DIALER = {"gateway": "sim", "tick_s": 0.2, "poll_s": 0.3,
          "compliance": {"calling_hours": {"daily": "00:00-24:00"}, "max_attempts_per_24h": 50,
                         "max_marketing_contacts_per_7d": 50}}
PREDICTIVE_CONTACTS = 40
REMINDERS = (("+8613500000001", "王芳", "1280"), ("+8613500000002", "周杰", "560"), ("+8613500000003", "Mary", "99"))


def run_campaigns(engine: Any, sim: Any, time_scale: float = 1.0, timeout: float = 90.0) -> bool:
    """Create, launch and run both campaigns to their end; print their reports. True when both finished."""
    import gevent

    from engine.dialer.campaign_cli import report_lines
    from engine.dialer.campaigns import parse_campaign
    from engine.dialer.hopper import load_handle
    from engine.sim.listening import KeyPress, press_keys
    from engine.sim.population import Population
    from engine.store.repos.campaigns import CampaignRepository
    from engine.store.repos.dial_attempts import DialAttemptRepository
    from engine.yamlsrc import load_text

    store, repo = engine.store, CampaignRepository(engine.store)
    sim.set_population(Population(answer=0.35, machine=0.1, busy=0.05, unallocated=0.03, seed=9, talk_median=20.0))
    for number, _name, _amount in REMINDERS:
        sim.set_destination(number, outcome="answer", after=4.0)
    ids = []
    for text, contacts in ((PREDICTIVE, [(f"+86137{i:08d}", None, None) for i in range(PREDICTIVE_CONTACTS)]),
                           (REMINDER, [(n, None, None) for n, _, _ in REMINDERS])):
        config = parse_campaign(load_text(text, "demo.yaml"))
        record = repo.save(config.name, config.mode, config.queue, config.max_attempts, 600, {"config": config.raw})
        repo.enroll(record.id, contacts)
        ids.append(record.id)
    with store.session() as s:  # the reminder's amounts, as a CSV import's extra columns would give them
        from engine.store.models import CampaignContactRow
        for row in s.query(CampaignContactRow).filter(CampaignContactRow.campaign_id == ids[1]):
            name, amount = next((n, a) for num, n, a in REMINDERS if num == row.number)
            row.data = {"name": name, "amount_due": amount}
    seen: set[str] = set()

    def callees_press_keys() -> None:  # each reminder callee presses 2, then the 20th
        while True:
            for ch in list(sim.channels.values()):
                if ch.answered and ch.uuid not in seen and ch.variables.get("jq_campaign_id") == str(ids[1]):
                    seen.add(ch.uuid)
                    gevent.spawn(press_keys, ch, [KeyPress("2"), KeyPress("20#")])
            gevent.sleep(0.05)
    keys = gevent.spawn(callees_press_keys)
    click.echo("")
    click.echo(f"outbound: a predictive campaign of {PREDICTIVE_CONTACTS} prospects (3 agents, answering-machine "
               f"detection) and an agentless overdue reminder to {len(REMINDERS)} customers")
    started = time.monotonic()
    for campaign_id in ids:
        repo.change_status(campaign_id, "running")

    def finished() -> bool:
        return all(repo.counts(c).get("pending", 0) == 0 for c in ids) and not engine.dialer.calls
    deadline = time.monotonic() + timeout
    while not finished() and time.monotonic() < deadline:
        gevent.sleep(0.2)
    done = finished()
    keys.kill()
    for campaign_id in ids:
        handle = load_handle(store, campaign_id)
        figures = DialAttemptRepository(store).figures(campaign_id, handle.record.created_at)
        click.echo("")
        for line in report_lines(handle, figures):
            click.echo(line)
    click.echo(f"campaigns {'finished' if done else 'NOT finished'} in {time.monotonic() - started:.1f}s "
               f"(`jinqiao campaign report NAME` prints the same; talk times are wall-clock, the simulator runs "
               f"x{time_scale})")
    return done
