import pytest

from tests.ivr.fakes import Harness


@pytest.fixture
def harness(tmp_path):
    return Harness(tmp_path)
