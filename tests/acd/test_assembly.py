"""`start_acd` builds a working ACD from a YAML config, a real store and a control connection."""
from __future__ import annotations

import pytest

from engine.acd.assembly import start_acd
from engine.acd.queue_config import AcdConfigError
from engine.config import build_config
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.yamlsrc import load_text

from .fakes import FakeSwitch

YAML = """\
engine: {data_dir: %s}
acd:
  recordings_dir: %s/rec
  callback_gateway: carrier
  queues:
    support: {strategy: longest-idle, wrap_up_seconds: 5}
"""


class _Control(FakeSwitch):
    def __init__(self):
        super().__init__()
        self.handlers, self.reconnect = [], []

    def add_handler(self, handler):
        self.handlers.append(handler)

    def on_reconnect(self, callback):
        self.reconnect.append(callback)


def test_acd_is_built_from_config_and_store_and_listens_to_the_switch(tmp_path):
    config = build_config(load_text(YAML % (tmp_path, tmp_path), "engine.yaml"), environ={})
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    store.create_all()
    AgentRepository(store).add("1001", name="Li", extension="8001")
    control = _Control()
    acd = start_acd(config, store=store, control=control)
    try:
        service = acd.service
        assert list(service.distributor.queues) == ["support"]
        assert service.distributor.agents["1001"].extension == "8001"
        assert service.recording_root == f"{tmp_path}/rec"
        assert service.dial_customer("13800138000") == "sofia/gateway/carrier/13800138000"
        assert control.handlers and control.reconnect
        service.login("1001", ["support"])
        assert acd.writes.flush(2)  # the timeline is written behind the call path
        assert [c.state for c in AgentRepository(store).state_changes("1001")] == ["available"]
    finally:
        acd.stop()
        store.dispose()


def test_bad_acd_setting_is_located(tmp_path):
    text = YAML % (tmp_path, tmp_path) + "  reconcile_every: soon\n"
    config = build_config(load_text(text, "engine.yaml"), environ={})
    with pytest.raises(AcdConfigError, match=r"engine.yaml:7:\d+: acd.reconcile_every: expected a number"):
        start_acd(config, store=None, control=_Control())


def test_the_removed_screen_pop_webhooks_setting_points_to_the_webhooks_section(tmp_path):
    text = YAML % (tmp_path, tmp_path) + "  screen_pop_webhooks: [http://crm.example/pop]\n"
    config = build_config(load_text(text, "engine.yaml"), environ={})
    with pytest.raises(AcdConfigError, match=r"engine.yaml:7:\d+: acd.screen_pop_webhooks: removed: .*`webhooks:`"):
        start_acd(config, store=None, control=_Control())
