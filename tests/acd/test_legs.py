"""SwitchLegs recovery helpers: commands lost with the control connection are sent again once it is back."""
from __future__ import annotations

from gevent.event import AsyncResult

from engine.acd.legs import SwitchLegs
from engine.esl.commands import HangupCause

from .fakes import wait_until


class DroppedControl:
    """A control connection whose bgapi jobs all fail (as after a reconnect) while api still works."""

    def __init__(self, exists: str = "true") -> None:
        self.api_calls: list[str] = []
        self.exists_reply = exists

    def bgapi(self, command: str, job_uuid: str | None = None) -> AsyncResult:
        job = AsyncResult()
        job.set_exception(ConnectionError("connection lost"))
        return job

    def api(self, command: str, timeout: float = 10.0) -> str:
        self.api_calls.append(command)
        return self.exists_reply if command.startswith("uuid_exists") else "+OK\n"


def test_a_kill_lost_with_the_connection_is_sent_again_once_reconnected():
    control = DroppedControl()
    SwitchLegs(control).hang_up("leg-1", HangupCause.ORIGINATOR_CANCEL)
    wait_until(lambda: control.api_calls == ["uuid_kill leg-1 ORIGINATOR_CANCEL"])


def test_leg_existence_is_asked_by_the_uuid_the_engine_chose():
    assert SwitchLegs(DroppedControl("true")).exists("leg-2") is True
    assert SwitchLegs(DroppedControl("false")).exists("leg-2") is False
