"""engine.store stays free of FreeSWITCH code: no engine.esl, engine.sim or gevent.socket imports."""
from __future__ import annotations

import ast
from pathlib import Path

import engine.store

FORBIDDEN = ("engine.esl", "engine.sim", "gevent.socket", "engine.calls", "engine.acd", "engine.ivr", "engine.dialer")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_store_imports_no_switch_or_feature_code() -> None:
    root = Path(engine.store.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(f.relative_to(root)): sorted(m for m in imported_modules(f) if m.startswith(FORBIDDEN))
                 for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}
