"""`/metrics` (Prometheus text, read from live engine state at scrape time) and `/health` (JSON, 200 or 503).

Both need no sign-in: they are served where the web console binds (`web.host`, 127.0.0.1 by default), so
only the machine itself (or whoever the operator lets through a proxy) can read them.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import text

from engine.esl import commands

log = logging.getLogger(__name__)
observe = Blueprint("observe", __name__)
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EventLag:
    """An ESL event handler that keeps how late the last event arrived (now - its Event-Date-Timestamp)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.seconds = 0.0
        self.events = 0

    def __call__(self, event: Any) -> None:
        stamp = event.get(commands.H_EVENT_DATE_TIMESTAMP) if hasattr(event, "get") else None
        if stamp and stamp.isdigit():
            self.seconds = max(0.0, self.clock() - int(stamp) / 1e6)
            self.events += 1


class EngineState:
    """What /metrics and /health read from a running engine (engine.daemon.Engine)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.lags: dict[str, EventLag] = {}
        for name, connection in self.nodes():
            lag = EventLag()
            connection.add_handler(lag)
            self.lags[name] = lag

    def nodes(self) -> list[tuple[str, Any]]:
        """Every FreeSWITCH control connection: a node's name with several nodes, else host:port."""
        inbound = getattr(self.engine, "inbound", None)
        if inbound is None:
            return []
        several = getattr(inbound, "nodes", None)  # engine.esl.switchnodes.SwitchNodes
        if isinstance(several, dict):
            return [(name, node.connection) for name, node in several.items()]
        return [(f"{inbound.host}:{inbound.port}", inbound)]

    def role(self) -> str:
        return str(getattr(self.engine, "extras", {}).get("lease_role", "single"))

    def store_reachable(self) -> bool:
        try:
            with self.engine.store.connection() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("health: the store is not reachable: %s", exc)
            return False


class EngineCollector:
    """A Prometheus collector over live engine state (no counters sprinkled through the domains)."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        yield from self._acd()
        yield from self._dialer()
        yield from self._esl()
        yield from self._webhooks()

    def _acd(self) -> Iterator[Any]:
        acd = getattr(self.state.engine, "acd", None)
        calls = GaugeMetricFamily("jinqiao_calls", "Calls in the ACD by state", labels=["state"])
        waiting = GaugeMetricFamily("jinqiao_queue_waiting", "Callers waiting per queue", labels=["queue"])
        longest = GaugeMetricFamily("jinqiao_queue_longest_wait_seconds", "Longest current wait per queue",
                                    labels=["queue"])
        agents = GaugeMetricFamily("jinqiao_agents", "Agents by state", labels=["state"])
        if acd is not None:
            service = acd.service
            by_state: dict[str, int] = {"waiting": 0, "connected": 0}
            for call in list(service.calls.values()):
                by_state[call.status] = by_state.get(call.status, 0) + 1
            for name, count in sorted(by_state.items()):
                calls.add_metric([name], count)
            snapshot = service.snapshot()
            for name, queue in sorted(snapshot["queues"].items()):
                waiting.add_metric([name], queue["waiting"])
                longest.add_metric([name], queue["longest_wait"])
            states: dict[str, int] = {}
            for agent in snapshot["agents"].values():
                states[agent["state"]] = states.get(agent["state"], 0) + 1
            for name, count in sorted(states.items()):
                agents.add_metric([name], count)
        yield from (calls, waiting, longest, agents)

    def _dialer(self) -> Iterator[Any]:
        dialer = getattr(self.state.engine, "dialer", None)
        level = GaugeMetricFamily("jinqiao_campaign_dial_level", "Calls in flight per busy agent", labels=["campaign"])
        abandon = GaugeMetricFamily("jinqiao_campaign_abandon_rate", "Abandoned share of live answers today",
                                    labels=["campaign"])
        in_flight = GaugeMetricFamily("jinqiao_campaign_calls_in_flight", "Campaign calls in flight",
                                      labels=["campaign"])
        for loop in list(getattr(dialer, "loops", {}).values()) if dialer is not None else []:
            name = loop.handle.config.name
            pool = dialer.pool_figures(loop.handle.config.queue) if dialer.queues is not None \
                and loop.handle.config.queue else {}
            busy = sum(pool.get("agents", {}).get(s, 0) for s in ("on-call", "ringing", "reserved"))
            level.add_metric([name], loop.in_flight / busy if busy else float(loop.in_flight))
            abandon.add_metric([name], loop.history.abandon_rate())
            in_flight.add_metric([name], loop.in_flight)
        yield from (level, abandon, in_flight)

    def _esl(self) -> Iterator[Any]:
        up = GaugeMetricFamily("jinqiao_esl_connected", "1 when the ESL control connection is up", labels=["node"])
        lag = GaugeMetricFamily("jinqiao_esl_event_lag_seconds",
                                "How late the last switch event arrived (now - Event-Date-Timestamp)", labels=["node"])
        reconnects = CounterMetricFamily("jinqiao_esl_reconnects", "ESL reconnections since the engine started",
                                         labels=["node"])
        for name, connection in self.state.nodes():
            up.add_metric([name], 1.0 if connection.connected else 0.0)
            meter = self.state.lags.get(name)
            lag.add_metric([name], meter.seconds if meter else 0.0)
            reconnects.add_metric([name], max(0, connection.sessions - 1))
        yield from (up, lag, reconnects)

    def _webhooks(self) -> Iterator[Any]:
        hooks = getattr(self.state.engine, "webhooks", None)
        backlog = GaugeMetricFamily("jinqiao_webhook_backlog", "Webhook events waiting for delivery",
                                    labels=["subscriber"])
        oldest = GaugeMetricFamily("jinqiao_webhook_oldest_pending_seconds", "Age of the oldest undelivered event",
                                   labels=["subscriber"])
        dead = GaugeMetricFamily("jinqiao_webhook_dead", "Webhook events given up (dead letters)",
                                 labels=["subscriber"])
        deliveries = CounterMetricFamily("jinqiao_webhook_deliveries", "Delivery attempts by result",
                                         labels=["subscriber", "result"])
        if hooks is not None:
            now = time.time()
            try:
                for s in hooks.outbox.repo.status():
                    backlog.add_metric([s.subscriber], s.pending)
                    dead.add_metric([s.subscriber], s.dead)
                    oldest.add_metric([s.subscriber], now - s.oldest_pending_at.timestamp()
                                      if s.oldest_pending_at else 0.0)
            except Exception as exc:  # the store away: the other series still get scraped
                log.warning("metrics: webhook backlog not readable: %s", exc)
            for (subscriber, result), count in sorted(hooks.worker.counts.items()):
                deliveries.add_metric([subscriber, result], count)
        yield from (backlog, oldest, dead, deliveries)


def install(app: Any, engine: Any) -> EngineState:
    """Serve /metrics and /health for `engine` from `app` (called by engine.web.server.start_web)."""
    state = EngineState(engine)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(state))
    app.extensions["jinqiao.observe"] = (state, registry)
    app.register_blueprint(observe)
    return state


@observe.get("/metrics")
def metrics() -> Any:
    _state, registry = current_app.extensions["jinqiao.observe"]
    return Response(generate_latest(registry), mimetype=PROMETHEUS_TYPE)


@observe.get("/health")
def health() -> Any:
    state, _registry = current_app.extensions["jinqiao.observe"]
    esl = {name: bool(connection.connected) for name, connection in state.nodes()}
    store = state.store_reachable()
    ok = store and all(esl.values())
    body = {"status": "ok" if ok else "unhealthy", "esl_connected": esl, "store_reachable": store,
            "lease_role": state.role()}
    return jsonify(body), 200 if ok else 503
