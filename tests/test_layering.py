"""The engine never imports the simulator (only the demo does), FreeSWITCH's wire protocol stays in engine.esl, and
the ACD's composed services never import the QueueService facade that builds them."""
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


def test_the_acd_collaborators_never_import_the_queue_service_facade() -> None:
    # QueueService (engine/acd/service.py) builds its collaborators (executor, transfers, callbacks, timers,
    # live calls) and hands them their dependencies: none of them may import it back, as the old mixins did.
    # Only the construction (assembly.py) and the two adapters given the facade itself may name it.
    acd = ENGINE / "acd"
    importers = sorted(p.name for p in acd.glob("*.py")
                       if p.name != "service.py" and any(m == "engine.acd.service" or m.startswith("engine.acd.service.")
                                                         for m in imported_modules(p)))
    assert importers == ["assembly.py", "reconciler.py", "switch_events.py"]
