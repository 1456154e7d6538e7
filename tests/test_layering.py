"""The engine never imports the simulator (only the demo does), and FreeSWITCH's wire protocol stays in engine.esl."""
from __future__ import annotations

from pathlib import Path

from tests.importscan import imported_modules

ENGINE = Path(__file__).resolve().parents[1] / "engine"


def test_only_the_demo_imports_the_simulator() -> None:
    importers = sorted(str(p.relative_to(ENGINE)) for p in ENGINE.rglob("*.py")
                       if "sim" not in p.relative_to(ENGINE).parts[:1]
                       and any(m == "engine.sim" or m.startswith("engine.sim.") for m in imported_modules(p)))
    assert importers == ["demo.py"]


def test_only_engine_esl_uses_the_wire_protocol_module() -> None:
    users = sorted(str(p.relative_to(ENGINE)) for p in ENGINE.rglob("*.py")
                   if p.relative_to(ENGINE).parts[0] != "esl"
                   and any(m.startswith("engine.esl.protocol") for m in imported_modules(p)))
    assert users == []
