"""Layering: the ACD never imports sockets, the wire protocol or the simulator, and its pure domain modules
hold no FreeSWITCH strings at all."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine.acd
from tests.importscan import imported_modules

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("gevent.socket", "engine.esl.protocol", "engine.sim")
DOMAIN = ("models", "intents", "index", "strategies", "routing", "distributor", "queue_config", "announce")
FS_WORDS = ("uuid_", "originate", "CHANNEL_", "sofia", "bgapi", "local_stream", "sip_h_", "&park")


def _modules(package) -> list[str]:
    return [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]


def test_acd_sources_do_not_import_sockets_protocol_or_simulator():
    for package in ("acd",):
        for path in (ROOT / "engine" / package).glob("*.py"):
            bad = {name for name in imported_modules(path) if name.startswith(FORBIDDEN)}
            assert not bad, f"{path.name} imports {bad}"


def test_importing_every_acd_module_loads_no_socket_protocol_or_simulator_module():
    modules = _modules(engine.acd)
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            f"print([m for m in {FORBIDDEN!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_domain_modules_contain_no_freeswitch_strings():
    for name in DOMAIN:
        path = ROOT / "engine" / "acd" / f"{name}.py"
        text = path.read_text(encoding="utf-8")
        assert "engine.esl" not in text, f"{name}.py refers to engine.esl"
        for word in FS_WORDS:
            assert word not in text, f"{name}.py contains the FreeSWITCH string {word!r}"
