"""The tts package stays free of FreeSWITCH, simulator and socket code."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.importscan import imported_modules

TTS = Path(__file__).resolve().parents[2] / "tts"
FORBIDDEN = ("engine.esl", "engine.sim", "gevent.socket")


def test_tts_imports_no_freeswitch_simulator_or_socket_code():
    for path in TTS.rglob("*.py"):
        bad = {m for m in imported_modules(path) if m.startswith(FORBIDDEN) or m == "socket"}
        assert not bad, f"{path.name} imports {bad}"


def test_only_the_cli_reads_engine_config():
    for path in TTS.rglob("*.py"):
        engine = {m for m in imported_modules(path) if m.split(".")[0] == "engine"}
        if path.name == "cli.py":
            allowed = {"engine.config", "engine.clicontext", "engine.clicontext.current_config",
                       *(f"engine.config.{n}" for n in ("ConfigError", "find_config_path", "load_config"))}
            assert engine <= allowed
        else:
            assert not engine, f"{path.name} imports {engine}"


def test_every_module_starts_with_a_one_line_docstring():
    for path in TTS.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and doc.splitlines()[0].strip().endswith("."), path
