"""`jinqiao demo` runs the whole engine against the simulator on SQLite, as a new user would run it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_scripted_calls_through_the_engine_and_stores_each(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "engine.cli", "demo", "--calls", "4", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "customers imported: 3 new, 0 updated, 0 rejected" in out
    assert "4 calls in" in out and "4 stored, 0 not stored" in out
    # The welcome caller pressed 7 and the flow said it back, then hung up normally.
    assert "flow demo_welcome: welcome > ask > say_key > goodbye" in out
    assert "keys: ask:7" in out
    # The VIP is identified from the store, queued to the VIP queue, served by the agent with the vip
    # skill, recorded, and rates the call after the agent hangs up.
    assert "agents logged in: 1001, 1002, 1003" in out
    assert "identify > is_vip > vip_greeting > vip_queue > survey > goodbye" in out
    assert "queue vip_service: agent 1001" in out
    assert "survey telecom_satisfaction: 5" in out
    recordings = [line for line in out.splitlines() if line.strip().startswith("recording: ")]
    assert len(recordings) == 2 and all("(0.0s" not in line for line in recordings)
    assert (tmp_path / "jinqiao.db").exists()
