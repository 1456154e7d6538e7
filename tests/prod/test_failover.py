"""Active/standby engines on one PostgreSQL (issue 12.3): the lease and its fencing token, HA refused on SQLite,
and kill -9 of the active engine with conversations up: the standby takes over and the calls stay up."""
from __future__ import annotations

import os
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from engine.esl import commands
from engine.ha.lease import HaUnsupported, Lease, fence_connections, require_postgresql
from engine.sim import FreeSwitchSim
from engine.store import migrate
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.interactions import InteractionRepository

from .helpers import DID, PASSWORD, cli, free_port, kill9, write_config

PG_ENV = "JINQIAO_TEST_PG_URL"


@pytest.fixture
def pg_url():
    """A database of its own on the test cluster (the store tests reset theirs)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"HA tests need PostgreSQL ({PG_ENV}; scripts/run-tests.sh starts one)")
    name = f"jq_ha_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = base.rsplit("/", 1)[0] + "/" + name
    store = open_store(url)
    migrate.upgrade(store.engine)
    store.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_ha_is_refused_on_sqlite_with_the_reason():
    with pytest.raises(HaUnsupported, match="PostgreSQL"):
        require_postgresql("sqlite:////var/lib/jinqiao/jq.db")


def test_the_lease_has_one_holder_and_a_fenced_old_active_cannot_write(pg_url):
    store_a, store_b = open_store(pg_url), open_store(pg_url)
    try:
        first, second = Lease(store_a.engine, ttl=0.5, holder="a"), Lease(store_b.engine, ttl=0.5, holder="b")
        token = first.try_acquire()
        assert token is not None and second.try_acquire() is None
        fence_connections(store_a.engine, token)
        InteractionRepository(store_a).start("inbound", time.time(), call_id="before-takeover")
        # When the active stops renewing (paused) and its lease expires, the standby takes it
        deadline = time.monotonic() + 10
        while second.try_acquire() is None:
            assert time.monotonic() < deadline, "the standby never took the expired lease"
            time.sleep(0.05)
        assert second.token == token + 1
        # Then the old active's writes are refused by the database, and its renewal tells it so
        with pytest.raises(Exception, match="fencing token"):
            InteractionRepository(store_a).start("inbound", time.time(), call_id="after-takeover")
        assert not first.renew()
        fence_connections(store_b.engine, second.token)
        InteractionRepository(store_b).start("inbound", time.time(), call_id="new-active")
        assert InteractionRepository(store_b).by_call_id("after-takeover") is None
    finally:
        store_a.dispose()
        store_b.dispose()


@pytest.fixture
def sim(tmp_path):
    s = FreeSwitchSim(password=PASSWORD, time_scale=0.05, sounds_dir=str(tmp_path))
    s.start()
    yield s
    s.stop()


def logins(sim) -> int:
    return sum(1 for line in list(sim.command_log) if line.startswith("auth"))


def test_kill_9_of_the_active_engine_keeps_the_calls_up_and_the_standby_takes_over(tmp_path, sim, pg_url):
    ports = free_port(), free_port()
    configs = []
    for name, port in zip("ab", ports):
        (tmp_path / name).mkdir()
        configs.append(write_config(tmp_path / name, sim.address[1], port, database_url=pg_url))
    store = open_store(pg_url)
    agents = ("1001", "1002", "1003")
    for a in agents:
        AgentRepository(store).add(a, extension=a)
        AgentRepository(store).record_state_change(a, "available", "login", time.time() - 60)
        sim.add_endpoint(a, answer_after=0.2, hangup_after=None)
    sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
    # The dialplan tries the first engine's socket, then the second's, then parks the call (socket_resume).
    sim.route(DID, socket=f"127.0.0.1:{ports[0]} async full",
              after=[("socket", f"127.0.0.1:{ports[1]} async full"), ("park", "")])
    active = cli(configs[0], "serve", "--standby")
    standby = None
    try:
        assert sim.wait_until(lambda: logins(sim) == 1, 30), "the first engine never became active"
        standby = cli(configs[1], "serve", "--standby")
        standby_log = configs[1].parent / "engine.log"
        assert sim.wait_until(lambda: "waiting for the active lease" in standby_log.read_text(), 60), \
            "the second engine never started waiting as the standby"
        calls = [sim.place_call(DID, f"1380000000{i}") for i in range(len(agents))]

        def all_bridged() -> bool:
            return all(sim.channels.get(c.uuid) is not None and sim.channels[c.uuid].bridged_to is not None
                       for c in calls)
        assert sim.wait_until(all_bridged, 30), "calls not bridged to agents"
        # When the active engine is killed
        kill9(active)
        killed_at = time.monotonic()
        # Then the standby takes over (connects to the switch) within 5 s, and the conversations stay up
        assert sim.wait_until(lambda: logins(sim) == 2, 15), "the standby never took over"
        takeover = time.monotonic() - killed_at
        assert takeover < 5, takeover
        assert sim.wait_until(lambda: sum(1 for line in list(sim.command_log)
                                          if "hangup_after_bridge true" in line) >= len(calls), 15), \
            "the new active did not adopt the conversations"
        assert all_bridged() and not any(c.hung_up for c in calls)
        # And a conversation ended by its agent completes its interaction through the new active
        first = calls[0]
        call_id = sim.channels[first.uuid].variables[commands.VAR_CALL_ID]
        sim.channels[first.uuid].bridged_to.hangup("NORMAL_CLEARING")
        assert sim.wait_until(lambda: first.hung_up, 15)
        repo = InteractionRepository(store)

        def finished() -> bool:
            row = repo.by_call_id(call_id)
            return row is not None and row.hangup_by == "agent"
        assert sim.wait_until(finished, 15), "the interaction was not completed by the new active"
    finally:
        for proc in (active, standby):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        store.dispose()
