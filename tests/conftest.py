"""Shared fixtures: where the FreeSWITCH captures live, and gevent monkey-patching for socket tests."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Engines started by tests (in process or as `jinqiao serve`) serve the console on this run's own free port, not on
# the default 8080, which a developer's engine or another run may hold.
os.environ.setdefault("JINQIAO_WEB_PORT", str(_free_port()))

# Byte captures recorded from a real FreeSWITCH (see tests/data/fs-captures/README.md); they live in the
# repository so that every fidelity test runs on a fresh clone.
CAPTURES = Path(os.environ.get("JINQIAO_CAPTURES", Path(__file__).resolve().parent / "data" / "fs-captures"))


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    assert CAPTURES.is_dir(), f"FreeSWITCH captures missing at {CAPTURES}"
    return CAPTURES
