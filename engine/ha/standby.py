"""`jinqiao serve --standby`: one of two engines on a shared PostgreSQL; whoever holds the lease serves.

Both engines of the pair run the same command. Each waits for the lease (lease.py); the one that takes it
builds and starts the engine (which connects to FreeSWITCH and rebuilds the calls it finds, adopt.py), writes
under its fencing token and renews the lease; the other keeps trying. An active that cannot renew for a
whole lease period stops at once (another engine may be active by then) and exits with status 3, so systemd
restarts it as the new standby.
"""
from __future__ import annotations

import logging
import signal
import time
from typing import Any, Callable

import gevent
from gevent.event import Event

from engine.ha.lease import HaUnsupported, Lease, fence_connections, require_postgresql
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)
EXIT_LEASE_LOST = 3


def wait_for_lease(lease: Lease, stop: Event, poll: float) -> int | None:
    """Block until the lease is ours (its token) or `stop` is set (None)."""
    errors = RateLimitedLog(log)
    while not stop.is_set():
        try:
            token = lease.try_acquire()
        except Exception as exc:  # the database is unreachable: keep trying, say so now and then
            errors.warning("lease", "standby: cannot reach the lease in the database (%s); retrying", exc)
            token = None
        if token is not None:
            return token
        stop.wait(poll)
    return None


def hold_lease(lease: Lease, stop: Event) -> bool:
    """Renew until `stop` (True) or the lease is lost / cannot be renewed for a whole lease period (False)."""
    last_ok = time.monotonic()
    while not stop.wait(lease.ttl / 5):
        try:
            if not lease.renew():
                log.error("active: the lease was taken by another engine; stopping now")
                return False
            last_ok = time.monotonic()
        except Exception as exc:
            if time.monotonic() - last_ok >= lease.ttl:
                log.error("active: lease not renewed for %.1fs (%s); stopping now", lease.ttl, exc)
                return False
            log.warning("active: lease renewal failed (%s); retrying", exc)
    return True


def run_pair(config: Any, build: Callable[..., Any] | None = None, stop: Event | None = None,
             ttl: float = 2.5, poll: float = 0.25) -> int:
    """Serve as one engine of an active/standby pair until stopped; the process exit code."""
    from engine.daemon import build_engine, open_checked_store

    try:
        require_postgresql(config.database_url)
    except HaUnsupported as exc:
        log.error("%s", exc)
        return 2
    stop = stop or Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    lease_store = open_checked_store(config)
    lease = Lease(lease_store.engine, ttl=ttl)
    log.info("standby: waiting for the active lease (this engine: %s)", lease.holder)
    token = wait_for_lease(lease, stop, poll)
    if token is None:
        lease_store.dispose()
        return 0
    log.warning("active: took the lease with fencing token %d; starting the engine", token)
    engine = (build or build_engine)(config)
    fence_connections(engine.store.engine, token)
    engine.start()
    kept = hold_lease(lease, stop)
    engine.stop()
    if kept:
        try:
            lease.release()
        except Exception:
            log.exception("could not release the lease; the standby takes over when it expires")
    lease_store.dispose()
    return 0 if kept else EXIT_LEASE_LOST
