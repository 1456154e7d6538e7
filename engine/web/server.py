"""Serve the web app on gevent's WSGI server inside the engine process; `start_web` is called by the daemon."""
from __future__ import annotations

import logging
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer

from engine.store.repos.users import UserRepository
from engine.web.app import WebServices, create_app
from engine.web.console import Console
from engine.web.observe import install as install_observe
from engine.web.push import PushHub
from engine.web.security import load_secret_key

log = logging.getLogger(__name__)


@dataclass
class RunningWeb:
    """The web server and what it serves; `stop()` closes every stream and the listening socket."""

    server: WSGIServer
    console: Console
    hub: PushHub
    app: Any

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[0], self.server.server_port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.console.close()
        self.hub.close_all()
        self.server.stop(timeout=1)


def _run_in_thread(fn: Any, *args: Any) -> Any:
    """Run CPU-heavy work (scrypt) off the event loop: hashlib releases the GIL while hashing."""
    return gevent.get_hub().threadpool.apply(fn, args)


def start_web(engine: Any, *, port: int | None = None) -> RunningWeb:
    """Build the console over the engine's ACD, store and bus, and serve it on `web.host:web.port`."""
    config = engine.config
    web = config.web
    key_file = Path(web.secret_key_file) if web.secret_key_file else Path(config.engine.data_dir) / "web-secret"
    zone = zoneinfo.ZoneInfo(config.engine.timezone)
    console = Console(engine.acd.service if engine.acd is not None else None, engine.store, engine.bus,
                      clock=time.time, disposition_queues=web.disposition_queues, sla_seconds=web.sla_seconds,
                      zone=zone)
    if getattr(engine, "dialer", None) is not None:
        from engine.web.outbound import Outbound
        console.outbound = Outbound(engine.dialer, engine.store, console, clock=time.time, zone=zone)
    console.start()
    hub = PushHub(max_streams=web.max_push_clients)
    console.push = hub.publish
    console.watching = hub.watching
    services = WebServices(console=console, users=UserRepository(engine.store), hub=hub,
                           run_blocking=_run_in_thread)
    app = create_app(services, web, load_secret_key(key_file))
    install_observe(app, engine)  # /metrics and /health (no sign-in; where the web binds)
    app.config["JINQIAO_API"] = {"flows_dir": config.ivr.flows_dir}
    server = WSGIServer((web.host, web.port if port is None else port), app, log=None, error_log=log)
    server.start()
    running = RunningWeb(server, console, hub, app)
    log.info("web console on %s", running.url)
    return running
