"""`jinqiao agent ...`: log agents in and out, ready / not ready, and show their live state.

Control commands reach the running engine as a signed FreeSWITCH CUSTOM event (`jinqiao::agent`) sent over
the event socket, so the engine needs no extra listening port; the engine answers with a signed
`jinqiao::agent-ack` carrying the same request id (see `agent_control.py`). Every command waits for that
acknowledgement and fails clearly when it is refused or does not come. `status` asks the engine for its
live view the same way; it never shows stored rows as if they were the present.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping

import click

from engine.acd import agent_control as control
from engine.esl.commands import EV_CUSTOM, H_AGENT_ACTION, H_AGENT_ID, H_AGENT_QUEUES, H_AGENT_REASON

# A sender takes the request fields, delivers them to the engine and returns the engine's acknowledgement
# (headers, body); it raises click.ClickException when the engine cannot be reached or does not answer.
Sender = Callable[[Mapping[str, str]], tuple[Mapping[str, str], str]]
ACK_TIMEOUT = 5.0


def _config() -> Any:
    from engine.clicontext import current_config

    return current_config()


def esl_sender(config: Any, timeout: float = ACK_TIMEOUT) -> Sender:
    """Sign the request, send it through FreeSWITCH's event socket and wait for the engine's signed ack."""
    def send(fields: Mapping[str, str]) -> tuple[Mapping[str, str], str]:
        import gevent
        from gevent.event import AsyncResult

        from engine.esl.connection import InboundConnection

        fs = config.freeswitch
        if not fs.password:
            raise click.ClickException("freeswitch.password is not set (config or JINQIAO_FREESWITCH_PASSWORD)")
        key = control.control_key(fs.password)
        request = control.signed_request(key, fields, time.time())
        answer: AsyncResult = AsyncResult()

        def on_event(event: Any) -> None:
            headers = {name: event.get(name) or "" for name in (*control.SIGNED_HEADERS, control.H_SIGNATURE)}
            if (event.get("Event-Subclass") == control.SUBCLASS_ACK
                    and headers[control.H_REQUEST_ID] == request[control.H_REQUEST_ID]
                    and control.verify(key, headers, event.body or "")):
                answer.set((headers, event.body or ""))

        conn = InboundConnection(fs.host, fs.port, fs.password, events=(control.SUBCLASS_ACK,),
                                 reconnect_min_delay=1.0, connect_timeout=fs.connect_timeout)
        conn.add_handler(on_event)
        conn.start()
        try:
            if not conn.wait_connected(fs.connect_timeout):
                if "invalid" in conn.last_error.lower() or "denied" in conn.last_error.lower():
                    raise click.ClickException(f"FreeSWITCH at {fs.host}:{fs.port} refused the ESL password "
                                               "(freeswitch.password / JINQIAO_FREESWITCH_PASSWORD)")
                raise click.ClickException(f"cannot reach FreeSWITCH at {fs.host}:{fs.port}: "
                                           f"{conn.last_error or 'no answer'}")
            conn.sendevent(EV_CUSTOM, request)
            try:
                return answer.get(timeout=timeout)
            except gevent.Timeout:
                raise click.ClickException(
                    f"the engine did not acknowledge within {timeout:g} s: is `jinqiao serve` running, "
                    "connected to this FreeSWITCH, with acd.queues configured and the same ESL password?") from None
        finally:
            conn.close()
    return send


def _check_agent_and_queues(config: Any, fields: Mapping[str, str]) -> None:
    """Refuse an agent the store does not know, or a queue the config does not define, before sending."""
    from engine.store.database import open_store
    from engine.store.repos.agents import AgentRepository

    agent_id = fields.get(H_AGENT_ID, "")
    store = open_store(config.database_url)
    try:
        known = AgentRepository(store).get(agent_id)
    finally:
        store.dispose()
    if known is None or not getattr(known, "active", True):
        raise click.ClickException(f"unknown agent {agent_id!r} (add it with `jinqiao agents add {agent_id}`)")
    queues = [q for q in (fields.get(H_AGENT_QUEUES) or "").split(",") if q]
    defined = set((config.acd or {}).get("queues") or {})
    unknown = [q for q in queues if q not in defined]
    if unknown:
        raise click.ClickException(f"unknown queue(s) {', '.join(unknown)} (acd.queues has: "
                                   f"{', '.join(sorted(defined)) or 'none'})")


def _sender(ctx: click.Context) -> Sender:
    custom = (ctx.obj or {}).get("acd_sender") if isinstance(ctx.obj, dict) else getattr(ctx.obj, "acd_sender", None)
    if custom is not None:
        return custom
    config = _config()

    def checked(fields: Mapping[str, str]) -> tuple[Mapping[str, str], str]:
        if fields.get(H_AGENT_ID) and fields.get(H_AGENT_ACTION) != "status":
            _check_agent_and_queues(config, fields)
        return esl_sender(config)(fields)
    return checked


def _agent_id(value: str) -> str:
    if not control.AGENT_ID_RE.match(value or ""):
        raise click.BadParameter(f"not an agent id: {value!r} (letters, digits, . _ @ + -; up to 64)",
                                 param_hint="AGENT")
    return value


def _request(fields: dict[str, str]) -> tuple[Mapping[str, str], str]:
    problem = control.check_request_fields(fields)
    if problem:
        raise click.BadParameter(problem)
    headers, body = _sender(click.get_current_context())(fields)
    if headers.get(control.H_RESULT) != "ok":
        raise click.ClickException(f"the engine refused {fields.get(H_AGENT_ACTION)}: "
                                   f"{headers.get(control.H_DETAIL) or 'no reason given'}")
    return headers, body


def _send(agent_id: str, action: str, reason: str = "", queues: tuple[str, ...] = ()) -> None:
    fields = {H_AGENT_ID: _agent_id(agent_id), H_AGENT_ACTION: action}
    if reason:
        if not control.REASON_RE.match(reason):
            raise click.BadParameter(f"{reason[:40]!r}: up to 64 letters, digits, blanks or . : / - _",
                                     param_hint="--reason")
        fields[H_AGENT_REASON] = reason
    for queue in queues:
        if not control.QUEUE_RE.match(queue):
            raise click.BadParameter(f"not a queue name: {queue[:40]!r}", param_hint="--queue")
    if queues:
        fields[H_AGENT_QUEUES] = ",".join(queues)
    headers, _body = _request(fields)
    state = headers.get(control.H_STATE) or "?"
    click.echo(f"agent {agent_id}: {action}" + (f" ({reason})" if reason else "") +
               (f" in {', '.join(queues)}" if queues else "") + f" - now {state}")


@click.group("agent")
def agent() -> None:
    """Agent state: log in/out, ready / not ready, status (through the running engine)."""


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
    """Show the engine's live state of AGENT (or of every agent)."""
    fields = {H_AGENT_ACTION: "status"}
    if agent_id is not None:
        fields[H_AGENT_ID] = _agent_id(agent_id)
    _headers, body = _request(fields)
    try:
        agents = json.loads(body or "{}")
    except ValueError:
        raise click.ClickException("the engine's status answer is not JSON") from None
    if not agents:
        click.echo("no agents known to the engine")
    for name in sorted(agents):
        info = agents[name]
        reason = f"\t{info.get('reason')}" if info.get("reason") else ""
        registered = "registered" if info.get("registered") else "not registered"
        queues = ",".join(info.get("queues") or []) or "-"
        click.echo(f"{name}\t{info.get('state')}\t{registered}\t{queues}{reason}")
