"""engine.store stays free of FreeSWITCH code: no engine.esl, engine.sim or gevent.socket imports."""
from __future__ import annotations

from pathlib import Path

import engine.store
from tests.importscan import imported_modules

FORBIDDEN = ("engine.esl", "engine.sim", "gevent.socket", "engine.calls", "engine.acd", "engine.ivr", "engine.dialer")


def test_the_store_imports_no_switch_or_feature_code() -> None:
    root = Path(engine.store.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(f.relative_to(root)): sorted(m for m in imported_modules(f) if m.startswith(FORBIDDEN))
                 for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}
