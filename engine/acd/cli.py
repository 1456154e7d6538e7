"""`jinqiao agent ...`: log agents in and out, ready / not ready, and show their recorded state.

Control commands reach the running engine as a FreeSWITCH CUSTOM event (`jinqiao::agent`) sent over the
event socket, the same event a phone feature code can fire from the dialplan with the `event` app, so
the engine needs no extra listening port. `status` reads the agent timeline from the store.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import click

from engine.esl.commands import (EV_CUSTOM, EV_HEARTBEAT, H_AGENT_ACTION, H_AGENT_ID, H_AGENT_QUEUES, H_AGENT_REASON, H_SUBCLASS,
                                 SUBCLASS_AGENT_CONTROL)

Sender = Callable[[Mapping[str, str]], None]


def _config() -> Any:
    from engine.clicontext import current_config

    return current_config()


def esl_sender(config: Any) -> Sender:
    """Send the control event through FreeSWITCH's event socket (InboundConnection.sendevent)."""
    def send(headers: Mapping[str, str]) -> None:
        from engine.esl.connection import InboundConnection

        _check_agent_and_queues(config, headers)
        fs = config.freeswitch
        conn = InboundConnection(fs.host, fs.port, fs.password, events=(EV_HEARTBEAT,),
                                 reconnect_min_delay=1.0).start()
        try:
            if not conn.wait_connected(fs.connect_timeout):
                if "invalid" in conn.last_error:
                    raise click.ClickException(f"FreeSWITCH at {fs.host}:{fs.port} refused the ESL password "
                                               "(freeswitch.password / JINQIAO_FREESWITCH_PASSWORD)")
                raise click.ClickException(f"cannot reach FreeSWITCH at {fs.host}:{fs.port}: {conn.last_error}")
            conn.sendevent(EV_CUSTOM, {H_SUBCLASS: SUBCLASS_AGENT_CONTROL, **headers})
        finally:
            conn.close()
    return send


def _check_agent_and_queues(config: Any, headers: Mapping[str, str]) -> None:
    """Refuse an agent the store does not know, or a queue the config does not define, before sending."""
    from engine.store.database import open_store
    from engine.store.repos.agents import AgentRepository

    agent_id = headers.get(H_AGENT_ID, "")
    store = open_store(config.database_url)
    try:
        known = AgentRepository(store).get(agent_id)
    finally:
        store.dispose()
    if known is None or not getattr(known, "active", True):
        raise click.ClickException(f"unknown agent {agent_id!r} (add it with `jinqiao agents add {agent_id}`)")
    queues = [q for q in (headers.get(H_AGENT_QUEUES) or "").split(",") if q]
    defined = set((config.acd or {}).get("queues") or {})
    unknown = [q for q in queues if q not in defined]
    if unknown:
        raise click.ClickException(f"unknown queue(s) {', '.join(unknown)} (acd.queues has: "
                                   f"{', '.join(sorted(defined)) or 'none'})")


def _sender(ctx: click.Context) -> Sender:
    custom = (ctx.obj or {}).get("acd_sender") if isinstance(ctx.obj, dict) else getattr(ctx.obj, "acd_sender", None)
    return custom or esl_sender(_config())


def _send(agent_id: str, action: str, reason: str = "", queues: tuple[str, ...] = ()) -> None:
    if not agent_id.strip() or any(c in agent_id for c in " \r\n,"):
        raise click.BadParameter(f"not an agent id: {agent_id!r}", param_hint="AGENT")
    headers = {H_AGENT_ID: agent_id, H_AGENT_ACTION: action}
    if reason:
        headers[H_AGENT_REASON] = reason.replace("\n", " ")[:64]
    if queues:
        headers[H_AGENT_QUEUES] = ",".join(queues)
    _sender(click.get_current_context())(headers)
    click.echo(f"agent {agent_id}: {action}" + (f" ({reason})" if reason else "") +
               (f" in {', '.join(queues)}" if queues else ""))


@click.group("agent")
def agent() -> None:
    """Agent state: log in/out, ready / not ready, status."""


@agent.command()
@click.argument("agent_id", metavar="AGENT")
@click.option("--queue", "queues", multiple=True, help="Queue to serve (repeat for several; default: all).")
def login(agent_id: str, queues: tuple[str, ...]) -> None:
    """Log AGENT in and make it ready for calls."""
    _send(agent_id, "login", queues=queues)


@agent.command()
@click.argument("agent_id", metavar="AGENT")
def logout(agent_id: str) -> None:
    """Log AGENT out (after its current call and wrap-up, if any)."""
    _send(agent_id, "logout")


@agent.command()
@click.argument("agent_id", metavar="AGENT")
def ready(agent_id: str) -> None:
    """Make AGENT available for calls (also clears an auto-pause)."""
    _send(agent_id, "ready")


@agent.command("not-ready")
@click.argument("agent_id", metavar="AGENT")
@click.option("--reason", default="break", show_default=True, help="Reason code, e.g. lunch, meeting, training.")
def not_ready(agent_id: str, reason: str) -> None:
    """Pause AGENT (after its current call and wrap-up, if any)."""
    _send(agent_id, "not-ready", reason=reason)


@agent.command()
@click.argument("agent_id", metavar="AGENT", required=False)
def status(agent_id: str | None) -> None:
    """Show the last recorded state of AGENT (or of every agent)."""
    from engine.store.database import open_store
    from engine.store.repos.agents import AgentRepository

    config = _config()
    store = open_store(config.database_url)
    try:
        repo = AgentRepository(store)
        known = [a.id for a in repo.list()]
        if agent_id is not None and agent_id not in known:
            raise click.ClickException(f"unknown agent {agent_id!r}")
        latest: dict[str, Any] = {}
        for change in repo.state_changes(agent_id):
            latest[change.agent_id] = change
        for name in ([agent_id] if agent_id else known):
            change = latest.get(name)
            if change is None:
                click.echo(f"{name}\tlogged-out\t(no state recorded)")
            else:
                reason = f"\t{change.reason}" if change.reason else ""
                click.echo(f"{name}\t{change.state}\tsince {change.at:%Y-%m-%d %H:%M:%S}{reason}")
    finally:
        store.dispose()
