"""Shared fixtures: where the FreeSWITCH captures live, and gevent monkey-patching for socket tests."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

CAPTURES = Path(os.environ.get("JINQIAO_CAPTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fs-captures"))


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    if not CAPTURES.is_dir():
        pytest.skip(f"FreeSWITCH captures not found at {CAPTURES}")
    return CAPTURES
