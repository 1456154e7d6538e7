"""`jinqiao demo --serve`: the console and wallboard on the demo engine, demo-only logins, callers until Ctrl-C."""
from __future__ import annotations

import itertools
import secrets
import signal
from typing import Any, Callable, Sequence

import click

DEMO_DISPOSITIONS = (("resolved", "已解决 Resolved", True), ("follow_up", "需跟进 Follow-up", False),
                     ("complaint", "投诉 Complaint", False), ("sale", "成交 Sale", True))
CALL_EVERY = 6.0  # seconds between two new callers
MAX_CALLS = 4  # callers on the line at once


def serve_until_interrupted(engine: Any, sim: Any, agent_ids: Sequence[str], callers: Sequence[Any],
                            drive: Callable[[Any, Any], None]) -> int:
    """Create the demo logins, start the web app, print where to go, then keep callers coming until Ctrl-C."""
    import gevent
    import gevent.event

    from engine.store.repos.agents import DispositionRepository
    from engine.store.repos.users import UserRepository
    from engine.web.server import start_web

    users = UserRepository(engine.store)
    logins = []
    for agent_id in agent_ids:
        password = secrets.token_urlsafe(9)
        users.add(agent_id, password, role="agent")
        logins.append((agent_id, password, "agent"))
    supervisor = secrets.token_urlsafe(9)
    users.add("supervisor", supervisor, role="supervisor")
    logins.append(("supervisor", supervisor, "supervisor"))
    dispositions = DispositionRepository(engine.store)
    for code, label, success in DEMO_DISPOSITIONS:
        dispositions.add(code, label, is_success=success)
    web = start_web(engine)
    click.echo("")
    click.echo(f"agent console:  {web.url}/console")
    click.echo(f"wallboard:      {web.url}/wallboard")
    click.echo("demo logins (created for this demo's throw-away store only):")
    for user_id, password, role in logins:
        click.echo(f"  {role:<10} {user_id:<10} {password}")
    click.echo("simulated callers keep coming; press Ctrl-C to stop")

    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGINT, stop.set)
    gevent.signal_handler(signal.SIGTERM, stop.set)
    live: list = []
    for caller in itertools.cycle(callers):
        live[:] = [call for call in live if not call.hung_up]
        if len(live) < MAX_CALLS:
            call = sim.place_call(caller.did, caller.caller, script=[])
            live.append(call)
            gevent.spawn(drive, call, caller)
        if stop.wait(CALL_EVERY):
            break
    click.echo("stopping")
    for call in live:
        if not call.hung_up:
            call.hangup()
    web.stop()
    return 0
