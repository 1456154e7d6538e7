"""`jinqiao users add|list|remove` (no default accounts, password from stdin or a prompt) and the `web:` config."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import ConfigError, build_config
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.users import UserRepository
from engine.yamlsrc import LocatedYaml


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'jq.db'}"
    monkeypatch.setenv("JINQIAO_DATABASE_URL", url)
    monkeypatch.delenv("JINQIAO_CONFIG", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    store = open_store(url)
    yield store
    store.dispose()


def jq(*args: str, stdin: str = ""):
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_fresh_store_has_no_accounts(db):
    assert UserRepository(db).list() == []


def test_add_agent_login_from_stdin_then_sign_in(db):
    AgentRepository(db).add("1001")
    code, out, _ = jq("users", "add", "1001", "--password-stdin", stdin="long enough pw\n")
    assert code == 0 and "1001: agent" in out
    user = UserRepository(db).authenticate("1001", "long enough pw")
    assert user is not None and user.agent_id == "1001"
    code, out, _ = jq("users", "list")
    assert "1001\tagent\t1001" in out


def test_agent_login_needs_an_existing_agent(db):
    code, _, err = jq("users", "add", "9999", "--password-stdin", stdin="long enough pw\n")
    assert code == 2 and "jinqiao agents add 9999" in err


def test_short_password_refused(db):
    code, _, err = jq("users", "add", "boss", "--role", "supervisor", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 8" in err


def test_remove_disables_the_login(db):
    jq("users", "add", "boss", "--role", "supervisor", "--password-stdin", stdin="long enough pw\n")
    assert jq("users", "remove", "boss")[0] == 0
    assert UserRepository(db).authenticate("boss", "long enough pw") is None


def _config(web: dict):
    data = {"web": web}
    return build_config(LocatedYaml("jinqiao.yaml", data, {(): (1, 1), ("web",): (2, 1),
                                                          **{("web", k): (3, 3) for k in web}}), environ={})


def test_web_defaults_bind_localhost_with_secure_cookies():
    config = _config({})
    assert config.web.host == "127.0.0.1" and config.web.cookie_secure and config.web.cookie_samesite == "Strict"


@pytest.mark.parametrize("key,value,message", [("cookie_samesite", "None", "must be one of Strict, Lax"),
                                               ("login_attempts", 0, "at least 1"),
                                               ("session_hours", -1, "above 0"),
                                               ("port", 70000, "TCP port")])
def test_bad_web_settings_are_located(key, value, message):
    with pytest.raises(ConfigError) as error:
        _config({key: value})
    assert f"web.{key}" in str(error.value) and message in str(error.value) and "jinqiao.yaml:3" in str(error.value)
