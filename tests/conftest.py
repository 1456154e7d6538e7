"""Shared fixtures: where the FreeSWITCH captures live, and gevent monkey-patching for socket tests."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# Byte captures recorded from a real FreeSWITCH (see tests/data/fs-captures/README.md); they live in the
# repository so that every fidelity test runs on a fresh clone.
CAPTURES = Path(os.environ.get("JINQIAO_CAPTURES", Path(__file__).resolve().parent / "data" / "fs-captures"))


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    assert CAPTURES.is_dir(), f"FreeSWITCH captures missing at {CAPTURES}"
    return CAPTURES
