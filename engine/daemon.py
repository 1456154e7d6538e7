"""The wiring root: builds every service from the config, injects dependencies, starts and stops them.

Nothing else in the engine constructs services or reads the config as a whole; tests and the demo build
an `Engine` the same way the daemon does, pointed at a simulated switch.
"""
from __future__ import annotations

import gc
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
from engine.acd.hold import HoldRecorder
from engine.acd.queue_config import AcdConfigError
from engine.config import Config
from engine.dialer.assembly import build_dialer, wanted as dialer_wanted
from engine.esl import commands
from engine.esl.connection import CallChannel, InboundConnection, OutboundServer
from engine.esl.switchnodes import Node, SwitchNodes
from engine.ha.adopt import attach_rebuild
from engine.ha.campaign_resume import attach_campaign_resume
from engine.ha.nodeloss import attach_node_loss
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
from engine.webhooks.assembly import build_webhooks
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
    webhooks: Any = None  # engine.webhooks.assembly.RunningWebhooks when `webhooks.subscribers` is configured
    extras: dict[str, Any] = field(default_factory=dict)

    def start(self) -> "Engine":
        if self.inbound is not None:
            self.inbound.start()
        self.outbound.start()
        if self.webhooks is not None:
            self.webhooks.start()
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
        if self.webhooks is not None:
            self.webhooks.stop()
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
    from engine.webhooks.config import WebhookConfigError, load_webhooks

    problems: list[str] = []
    if missing_password(config):
        problems.append(missing_password(config))
    try:
        load_queues(config.acd, config.source)
        load_settings(config.acd, config.source)
    except AcdConfigError as exc:
        problems.append(str(exc))
    try:
        load_webhooks(config.webhooks, config.source)
    except WebhookConfigError as exc:
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

    problems, warnings = [], []
    for node in config.freeswitch.node_list():
        if not node.password:
            continue
        where = f"FreeSWITCH event socket {node.host}:{node.port}"
        if config.freeswitch.nodes:
            where = f"FreeSWITCH node {node.name} ({node.host}:{node.port})"
        result, detail = try_login(node.host, node.port, node.password,
                                   config.freeswitch.connect_timeout if timeout is None else timeout)
        if result is LoginResult.REFUSED:
            problems.append(f"{where} refused the ESL password (freeswitch.password / JINQIAO_FREESWITCH_PASSWORD): "
                            f"{detail}")
        elif result is LoginResult.REJECTED:
            problems.append(f"{where} refused this host (event_socket.conf.xml apply-inbound-acl): {detail}")
        elif result is LoginResult.UNREACHABLE:
            warnings.append(f"{where} not reachable ({detail}); the password was not checked")
    return "; ".join(problems), "; ".join(warnings)


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
        if missing_password(config):
            raise SystemExit(f"jinqiao: {missing_password(config)}")
        inbound = control_connection(config)
    bus = Bus()
    webhooks = build_webhooks(config, store)
    if inbound is not None:  # hold time of every call, from CHANNEL_HOLD / CHANNEL_UNHOLD (engine/acd/hold.py)
        inbound.add_handler(HoldRecorder(InteractionRepository(store).add_hold, time.time, gevent.spawn))
    acd = None
    if inbound is not None and (config.acd or {}).get("queues"):
        acd = start_acd(config, store=store, control=inbound, bus=bus, tts=tts,
                        outbox=webhooks.outbox if webhooks is not None else None)
        inbound.add_handler(agent_control_handler(acd.service, inbound, control_password(config)))
        acd.rebuild = attach_rebuild(acd.service, inbound)
        if isinstance(inbound, SwitchNodes):
            acd.node_loss = attach_node_loss(acd.service, inbound)
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
        handler = VerifiedCalls(handler, [inbound])  # SwitchNodes asks each node
    outbound = OutboundServer(ob.host, ob.port, handler, linger=ob.linger_seconds,
                              max_calls=ob.max_calls, connect_timeout=ob.connect_timeout,
                              execute_timeout=ob.execute_timeout, bridge_timeout=ob.bridge_timeout)
    dialer = None
    if inbound is not None and dialer_wanted(config, store):
        dialer = build_dialer(config, store=store, control=inbound, runner=runner, tts=tts,
                              acd_service=acd.service if acd is not None else None,
                              socket_address=lambda: outbound.address, customers=StoreDirectory(customers))
        if webhooks is not None:  # campaign.attempt_ended commits with the attempt's outcome
            dialer.hopper.attempts.on_finished = webhooks.outbox.attempt_ended
        dialer.resume = attach_campaign_resume(dialer, inbound)
    return Engine(config=config, store=store, tts=tts, flows=flows, ivr=runner, outbound=outbound, inbound=inbound,
                  acd=acd, bus=bus, dialer=dialer, webhooks=webhooks)


def control_password(config: Config) -> str:
    """The secret agent-control signatures derive from: freeswitch.password, else the first node's password."""
    return config.freeswitch.password or config.freeswitch.node_list()[0].password


def missing_password(config: Config) -> str:
    """Why the engine cannot log in to a FreeSWITCH node ("" when every node has an ESL password)."""
    for node in config.freeswitch.node_list():
        if not node.password:
            where = "freeswitch.password" if not config.freeswitch.nodes else \
                f"freeswitch.nodes ({node.name}): no password_file and no freeswitch.password"
            return (f"{where}: not set (set it in the config or JINQIAO_FREESWITCH_PASSWORD); there is no default")
    return ""


def control_connection(config: Config) -> InboundConnection | SwitchNodes:
    """One inbound ESL connection per FreeSWITCH node; several nodes are routed by SwitchNodes."""
    fs = config.freeswitch
    connections = [(node, InboundConnection(
        node.host, node.port, node.password, event_format=fs.event_format, heartbeat_timeout=fs.heartbeat_timeout,
        connect_timeout=fs.connect_timeout, reconnect_min_delay=fs.reconnect_min_delay,
        reconnect_max_delay=fs.reconnect_max_delay, handshake_timeout=fs.handshake_timeout,
        max_queued_bytes=fs.event_queue_mb << 20)) for node in fs.node_list()]
    if not fs.nodes:
        return connections[0][1]
    return SwitchNodes([Node(node.name, connection, node.weight, node.sip_address) for node, connection in connections],
                       lost_after=fs.node_lost_after)


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
    if missing_password(config):
        log.error("%s", missing_password(config))
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
    rollup = start_rollup_schedule(engine)
    web = None
    if config.web.enabled:
        from engine.web.server import start_web

        web = start_web(engine)
    # What start-up built (flows, config, templates, imported modules) lives as long as the engine: keep it out of
    # the collector's full passes, whose pauses were the tail of the dial path (docs/dialer.md, --gc-freeze).
    gc.freeze()
    stop.wait()
    log.info("stopping")
    if web is not None:
        web.stop()
    rollup.stop()
    engine.stop()
    return 0


def start_rollup_schedule(engine: Engine) -> Any:
    """The daily report rollup (engine/reports/schedule.py): missing days now, then yesterday after midnight."""
    import zoneinfo

    from engine.reports.schedule import RollupScheduler

    zone = zoneinfo.ZoneInfo(engine.config.engine.timezone)
    return RollupScheduler(engine.store, zone, clock=_utc_now, sleep=gevent.sleep).start()
