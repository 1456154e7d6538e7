"""The wiring root: builds every service from the config, injects dependencies, starts and stops them.

Nothing else in the engine constructs services or reads the config as a whole; tests and the demo build
an `Engine` the same way the daemon does, pointed at a simulated switch.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gevent

from engine.acd.agent_control import AgentControl, control_key
from engine.acd.assembly import start_acd
from engine.acd.bus import Bus
from engine.acd.queue_config import AcdConfigError
from engine.config import Config
from engine.dialer.assembly import build_dialer, wanted as dialer_wanted
from engine.esl import commands
from engine.esl.connection import CallChannel, InboundConnection, OutboundServer
from engine.ha.adopt import attach_rebuild
from engine.ha.readopt import ReadoptingHandler
from engine.ha.verify import VerifiedCalls
from engine.ivr.registry import FlowRegistry
from engine.ivr.runner import FlowRunner
from engine.ivr.store_adapter import QueuedInteractionLog, StoreCallbacks, StoreDirectory, StoreInteractionLog
from engine.logs import setup_logging
from engine.store.database import DATA_DIR_MODE, Store, open_store
from engine.store.migrate import SchemaOutdated, check_schema_current
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.interactions import InteractionRepository, SurveyRepository
from engine.yamlsrc import SourceError
from tts import TtsService

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """Every long-lived service of one engine process."""

    config: Config
    store: Store
    tts: TtsService
    flows: FlowRegistry
    ivr: FlowRunner
    outbound: OutboundServer
    inbound: InboundConnection | None = None
    acd: Any = None  # engine.acd.assembly.RunningAcd when acd.queues is configured
    bus: Any = None
    dialer: Any = None  # engine.dialer.service.DialerService when campaigns exist or `dialer:` is configured
    extras: dict[str, Any] = field(default_factory=dict)

    def start(self) -> "Engine":
        if self.inbound is not None:
            self.inbound.start()
        self.outbound.start()
        # The flows' static prompts are rendered now, in the background, not on the first calls (a surge of
        # first calls would otherwise all wait for the same renders on their call path).
        gevent.spawn(prerender_flow_prompts, self.tts, self.config.ivr.flows_dir)
        if self.dialer is not None:
            self.dialer.start()
        log.info("engine ready: outbound socket server on %s:%s", *self.outbound.address)
        return self

    def stop(self) -> None:
        if self.dialer is not None:
            self.dialer.stop()
        self.outbound.stop()
        if self.acd is not None:
            self.acd.stop()
        if self.inbound is not None:
            self.inbound.close()
        self.store.dispose()


def prerender_flow_prompts(tts: Any, flows_dir: str) -> None:
    """Render every static TTS prompt of the flows in `flows_dir` that is not cached yet (as `jinqiao tts render`)."""
    if getattr(tts, "backend", "") != "espeak" or not flows_dir or not os.path.isdir(flows_dir):
        return
    from tts.flowtext import flow_files, prompts_in_file

    texts: list[tuple[str, str]] = []
    for path in flow_files([flows_dir]):
        try:
            texts += [(p.text, p.language) for p in prompts_in_file(path)]
        except Exception as exc:  # the flow loader reports bad files; here they only miss their warm-up
            log.debug("prompts of %s not pre-rendered: %s", path, exc)
    summary = tts.prerender(texts)
    for failure in summary.failures:
        log.warning("prompt not pre-rendered [%s] %r: %s", failure.language, failure.text[:60], failure.error)
    if summary.rendered:
        log.info("pre-rendered %d flow prompts in %.1fs (%d were cached)", summary.rendered, summary.elapsed_s,
                 summary.cached)


def preflight(config: Config, *, check_store: bool = True) -> list[str]:
    """Every problem that would stop (or cripple) `jinqiao serve`, one line each; empty when it can run."""
    from engine.acd.queue_config import load_queues, load_settings
    from engine.store.errors import StoreError

    problems: list[str] = []
    if not config.freeswitch.password:
        problems.append("freeswitch.password: not set (set it in the config or JINQIAO_FREESWITCH_PASSWORD); "
                        "there is no default")
    try:
        load_queues(config.acd, config.source)
        load_settings(config.acd, config.source)
    except AcdConfigError as exc:
        problems.append(str(exc))
    flows = FlowRegistry.from_config(config)
    if not flows.flows_dir.is_dir():
        problems.append(located(config, ("ivr", "flows_dir"), f"{flows.flows_dir} is not a directory"))
    else:
        report = flows.reload()
        problems.extend(str(error) for error in report.errors)
        for did, name in sorted(flows.dids.items()):
            if flows.get(name) is None:
                problems.append(f"ivr.dids.{did}: no flow named {name!r} in {flows.flows_dir}")
        if config.ivr.default_flow and flows.get(config.ivr.default_flow) is None:
            problems.append(f"ivr.default_flow: no flow named {config.ivr.default_flow!r} in {flows.flows_dir}")
    if check_store:
        try:
            store = open_store(config.database_url, region=config.database.phone_region)
            try:
                check_schema_current(store.engine)
            finally:
                store.dispose()
        except StoreError as exc:
            problems.append(f"database: {exc}")
    return problems


def located(config: Config, path: tuple[str, ...], message: str) -> str:
    """`file:line:column: a.b: message` when the setting comes from the config file, else `a.b: message`."""
    source = config.source
    if source is not None and not source.file.startswith("<") and source.where(path) != source.where(()):
        return str(source.error(path, message))
    return f"{'.'.join(path)}: {message}"


def check_switch_login(config: Config, timeout: float | None = None) -> tuple[str, str]:
    """Log in to FreeSWITCH's event socket once: (problem, warning), each "" when there is none.

    A refused password is a problem; a switch that cannot be reached is only a warning (the engine
    reconnects until it is up)."""
    from engine.esl.probe import LoginResult, try_login

    fs = config.freeswitch
    if not fs.password:
        return "", ""
    where = f"FreeSWITCH event socket {fs.host}:{fs.port}"
    result, detail = try_login(fs.host, fs.port, fs.password, fs.connect_timeout if timeout is None else timeout)
    if result is LoginResult.REFUSED:
        return f"{where} refused the ESL password (freeswitch.password / JINQIAO_FREESWITCH_PASSWORD): {detail}", ""
    if result is LoginResult.REJECTED:
        return f"{where} refused this host (event_socket.conf.xml apply-inbound-acl): {detail}", ""
    if result is LoginResult.UNREACHABLE:
        return "", f"{where} not reachable ({detail}); the password was not checked"
    return "", ""


def open_checked_store(config: Config) -> Store:
    """Open the store and refuse an outdated schema with the command that fixes it."""
    Path(config.engine.data_dir).mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    store = open_store(config.database_url, echo=config.database.echo, region=config.database.phone_region)
    check_schema_current(store.engine)
    return store


def build_engine(config: Config, *, connect_inbound: bool = True,
                 call_handler: Callable[[CallChannel], None] | None = None) -> Engine:
    """Construct (but do not start) the engine's services from the config."""
    store = open_checked_store(config)
    tts = TtsService.from_config(config)
    flows = FlowRegistry.from_config(config)
    report = flows.reload()
    for problem in getattr(report, "errors", []) or []:
        log.error("flow problem: %s", problem)
    inbound = None
    if connect_inbound:
        fs = config.freeswitch
        if not fs.password:
            raise SystemExit("jinqiao: set the FreeSWITCH ESL password (freeswitch.password or "
                             "JINQIAO_FREESWITCH_PASSWORD); there is no default")
        inbound = InboundConnection(fs.host, fs.port, fs.password, event_format=fs.event_format,
                                    heartbeat_timeout=fs.heartbeat_timeout, connect_timeout=fs.connect_timeout,
                                    reconnect_min_delay=fs.reconnect_min_delay,
                                    reconnect_max_delay=fs.reconnect_max_delay,
                                    handshake_timeout=fs.handshake_timeout, max_queued_bytes=fs.event_queue_mb << 20)
    bus = Bus()
    acd = None
    if inbound is not None and (config.acd or {}).get("queues"):
        acd = start_acd(config, store=store, control=inbound, bus=bus, tts=tts)
        inbound.add_handler(agent_control_handler(acd.service, inbound, config.freeswitch.password))
        acd.rebuild = attach_rebuild(acd.service, inbound)
    customers = CustomerRepository(store)
    ivr_log: Any = StoreInteractionLog(InteractionRepository(store), SurveyRepository(store), now=_utc_now)
    if acd is not None and acd.writes is not None:  # a store outage at a call's end delays its record, never loses it
        ivr_log = QueuedInteractionLog(acd.writes, ivr_log)
    runner = FlowRunner(
        flows, tts,
        directory=StoreDirectory(customers),
        queue_gateway=acd.service if acd is not None else None,
        callbacks=StoreCallbacks(CallbackRepository(store)),
        interactions=ivr_log,
        # Absolute: FreeSWITCH resolves a relative path against its own sounds dir, not ours.
        recordings_dir=Path(config.engine.data_dir).resolve() / "recordings",
    )
    ob = config.outbound
    handler = call_handler or ReadoptingHandler(runner.run, acd and acd.service)
    if inbound is not None:  # only channels the switch confirms run a flow (engine/ha/verify.py)
        handler = VerifiedCalls(handler, [inbound])
    outbound = OutboundServer(ob.host, ob.port, handler, linger=ob.linger_seconds,
                              max_calls=ob.max_calls, connect_timeout=ob.connect_timeout,
                              execute_timeout=ob.execute_timeout, bridge_timeout=ob.bridge_timeout)
    dialer = None
    if inbound is not None and dialer_wanted(config, store):
        dialer = build_dialer(config, store=store, control=inbound, runner=runner, tts=tts,
                              acd_service=acd.service if acd is not None else None,
                              socket_address=lambda: outbound.address, customers=StoreDirectory(customers))
    return Engine(config=config, store=store, tts=tts, flows=flows, ivr=runner, outbound=outbound, inbound=inbound,
                  acd=acd, bus=bus, dialer=dialer)


def agent_control_handler(service: Any, inbound: InboundConnection, password: str) -> AgentControl:
    """The authenticated agent-control handler; its acknowledgements leave the dispatcher greenlet."""
    def send_ack(headers: dict[str, str], body: str) -> None:
        gevent.spawn(inbound.sendevent, commands.EV_CUSTOM, headers, body or None)

    return AgentControl(service, control_key(password), send_ack, clock=time.time)


def _utc_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def run_forever(config: Config, standby: bool = False) -> int:
    """`jinqiao serve`: run until SIGTERM/SIGINT; returns the process exit code. `standby`: one engine of an
    active/standby pair on PostgreSQL (engine/ha/standby.py)."""
    from gevent import monkey

    monkey.patch_all()
    setup_logging(config.engine.log_level, config.engine.log_format)
    if not config.freeswitch.password:
        log.error("freeswitch.password: not set (set it in the config or JINQIAO_FREESWITCH_PASSWORD)")
        return 2
    if standby:
        from engine.ha.standby import run_pair
        return run_pair(config)
    try:
        engine = build_engine(config)
    except (SchemaOutdated, SourceError) as exc:  # AcdConfigError, a bad `dialer:` section
        log.error("%s", exc)
        return 2
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    engine.start()
    web = None
    if config.web.enabled:
        from engine.web.server import start_web

        web = start_web(engine)
    stop.wait()
    log.info("stopping")
    if web is not None:
        web.stop()
    engine.stop()
    return 0
