"""The call-control facade the IVR runs over (re-exported from engine.esl.connection)."""
from __future__ import annotations

from engine.esl.connection import CallChannel, CallHungUp

__all__ = ["CallChannel", "CallHungUp"]
