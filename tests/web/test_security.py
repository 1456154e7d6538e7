"""Sessions, CSRF, roles, sign-in rate limit and password handling of the web app (Flask test client, real SQLite)."""
from __future__ import annotations

import logging
import re

import pytest

from engine.acd.bus import Bus
from engine.config import WebSection
from engine.store.database import open_store
from engine.store.migrate import upgrade
from engine.store.repos.agents import AgentRepository
from engine.store.repos.users import UserRepository, hash_password, verify_password
from engine.web.app import WebServices, create_app
from engine.web.console import Console
from engine.web.push import PushHub
from engine.web.security import LoginLimiter, load_secret_key

PASSWORD = "correct horse 1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def web(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(store.engine)
    AgentRepository(store).add("1001", name="赵敏")
    users = UserRepository(store)
    users.add("1001", PASSWORD, role="agent")
    users.add("boss", PASSWORD, role="supervisor")
    clock = Clock()
    console = Console(None, store, Bus(), clock=clock)
    services = WebServices(console=console, users=users, hub=PushHub(), clock=clock)
    app = create_app(services, WebSection(login_attempts=3, login_window=60), load_secret_key(tmp_path / "key"))
    app.testing = True
    yield app, clock
    store.dispose()


def _csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _sign_in(client, user_id: str, password: str = PASSWORD):
    return client.post("/login", data={"user_id": user_id, "password": password, "csrf_token": _csrf(client)})


def test_session_cookie_is_secure_httponly_and_samesite(web):
    app, _ = web
    client = app.test_client()
    response = _sign_in(client, "1001")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_agent_gets_403_on_supervisor_pages_and_actions(web):
    app, _ = web
    client = app.test_client()
    _sign_in(client, "1001")
    assert client.get("/wallboard").status_code == 403
    assert client.get("/api/floor").status_code == 403
    token = _csrf(client)
    assert client.post("/api/agents/1001/state", data={"state": "ready"},
                       headers={"X-CSRF-Token": token}).status_code == 403


def test_supervisor_has_no_agent_console(web):
    app, _ = web
    client = app.test_client()
    _sign_in(client, "boss")
    assert client.get("/console").status_code == 403
    assert client.get("/wallboard").status_code == 200


def test_post_without_csrf_token_is_refused(web):
    app, _ = web
    client = app.test_client()
    _sign_in(client, "1001")
    assert client.post("/api/console/ready").status_code == 403
    assert client.post("/api/console/ready", headers={"X-CSRF-Token": "forged"}).status_code == 403
    # the sign-in form itself needs the token too
    fresh = app.test_client()
    assert fresh.post("/login", data={"user_id": "1001", "password": PASSWORD}).status_code == 403


def test_pages_need_a_session(web):
    app, _ = web
    client = app.test_client()
    assert client.get("/console").status_code == 302
    assert client.get("/api/console").status_code == 401
    assert client.get("/events").status_code == 401


def test_agent_reads_only_calls_offered_to_them(web):
    app, _ = web
    client = app.test_client()
    _sign_in(client, "1001")
    response = client.get("/api/calls/someone-elses-call/card")
    assert response.status_code == 403


def test_repeated_failed_sign_ins_are_refused_for_the_window(web):
    app, clock = web
    client = app.test_client()
    for _ in range(3):
        assert _sign_in(client, "1001", "wrong password").status_code == 401
    # the right password is refused too while the window lasts
    assert _sign_in(client, "1001").status_code == 429
    clock.now += 61
    assert _sign_in(client, "1001").status_code == 302


def test_passwords_are_never_logged(web, caplog):
    app, _ = web
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    _sign_in(client, "1001", "wrong password")
    _sign_in(client, "1001")
    assert "wrong password" not in caplog.text and PASSWORD not in caplog.text


def test_removed_user_cannot_sign_in(web):
    app, _ = web
    services = app.extensions["jinqiao"]
    services.users.remove("1001")
    assert _sign_in(app.test_client(), "1001").status_code == 401


def test_scrypt_hash_keeps_its_parameters_and_checks_in_constant_time():
    stored = hash_password("s3cret-pass", n=2 ** 10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("s3cret-pass", stored)
    assert not verify_password("s3cret-pasS", stored)
    assert not verify_password("s3cret-pass", "md5$abc")


def test_limiter_counts_per_key_and_forgets_after_the_window():
    limiter = LoginLimiter(attempts=2, window=10)
    limiter.failed(("user:a", "addr:1"), 0)
    limiter.failed(("user:a", "addr:1"), 1)
    assert limiter.blocked(("user:a",), 2)
    assert not limiter.blocked(("user:b",), 2)
    assert not limiter.blocked(("user:a",), 11.5)


def test_language_follows_the_user_setting_then_the_browser(web):
    app, _ = web
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in page
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "登录" in page


def test_push_stream_ends_when_the_user_is_removed(web):
    app, clock = web
    services = app.extensions["jinqiao"]
    client = app.test_client()
    _sign_in(client, "boss")
    response = client.get("/events", buffered=False)
    stream = response.response
    assert next(iter(stream)).startswith(b"retry:")  # the first message (the floor) is sent at once
    services.users.remove("boss")
    clock.now += 10  # past the user cache
    services.hub.publish("supervisors", "floor", {"event_at": clock.now})
    assert list(stream) == []  # nothing more is written: the stream ends
    assert services.hub.count == 0


def test_outbound_and_transfer_actions_check_role_and_input(web):
    app, _ = web
    agent, boss = app.test_client(), app.test_client()
    _sign_in(agent, "1001")
    _sign_in(boss, "boss")
    a_token, b_token = _csrf(agent), _csrf(boss)
    # an agent may not pause campaigns; a supervisor has no console to dial from
    assert agent.post("/api/campaigns/x/pause", headers={"X-CSRF-Token": a_token}).status_code == 403
    assert boss.post("/api/console/dial", data={"number": "13800138000"},
                     headers={"X-CSRF-Token": b_token}).status_code == 403
    # bad input is a 400 naming the field
    bad = agent.post("/api/console/recording", data={"masked": "2"}, headers={"X-CSRF-Token": a_token})
    assert bad.status_code == 400 and bad.get_json()["detail"].startswith("masked:")
    bad = agent.post("/api/console/preview/next", data={}, headers={"X-CSRF-Token": a_token})
    assert bad.status_code == 400 and bad.get_json()["detail"].startswith("campaign:")
    # without a dialer the outbound actions say so (409), and without CSRF they are refused (403)
    none = agent.post("/api/console/dial", data={"number": "13800138000"}, headers={"X-CSRF-Token": a_token})
    assert none.status_code == 409 and none.get_json()["error"] == "no_dialer"
    assert agent.post("/api/console/consult", data={"target": "1002"}).status_code == 403
    paused = boss.post("/api/campaigns/x/pause", headers={"X-CSRF-Token": b_token})
    assert paused.status_code == 409 and paused.get_json()["error"] == "no_dialer"
