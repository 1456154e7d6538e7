"""Hold time of calls: from a leg's CHANNEL_HOLD to its CHANNEL_UNHOLD (or hang-up), added to the interaction.

How it works: FreeSWITCH fires CHANNEL_HOLD on the channel whose phone put the call on hold (a re-INVITE
with sendonly/inactive, or `uuid_hold` from the console) and CHANNEL_UNHOLD when it is taken off
(switch_channel_perform_mark_hold); both carry the channel variables, among them `bridge_uuid`, the leg
it is bridged to. `HoldClock` (pure, event time passed in) pairs the two per channel; `HoldRecorder`, an
inbound event handler, feeds it and adds each finished hold to the interaction of the held leg or of the
leg it is bridged to (the caller's leg carries the interaction), off the dispatcher greenlet.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from engine.esl import commands

log = logging.getLogger(__name__)
MAX_HELD_CHANNELS = 100_000  # bounded memory when holds are never released (lost events)
ENDS = frozenset({commands.EV_CHANNEL_UNHOLD, commands.EV_CHANNEL_HANGUP, commands.EV_CHANNEL_HANGUP_COMPLETE})


@dataclass(frozen=True)
class HoldEnded:
    """A finished hold: the call ids it may belong to (held leg first) and its length."""

    legs: tuple[str, ...]
    seconds: float


class HoldClock:
    """Which channels are on hold since when (seconds since the epoch, from the events)."""

    def __init__(self, max_channels: int = MAX_HELD_CHANNELS) -> None:
        self.max_channels = max_channels
        self._held: dict[str, tuple[float, tuple[str, ...]]] = {}

    def held(self, uuid: str, at: float, legs: tuple[str, ...]) -> None:
        if uuid in self._held:  # a second hold without an unhold: the first start stands
            return
        if len(self._held) >= self.max_channels:
            self._held.pop(next(iter(self._held)))
        self._held[uuid] = (at, legs)

    def released(self, uuid: str, at: float, legs: tuple[str, ...] = ()) -> HoldEnded | None:
        """The hold of `uuid` that ends at `at`, or None when it was not on hold."""
        started = self._held.pop(uuid, None)
        if started is None:
            return None
        known = tuple(dict.fromkeys(started[1] + legs))
        return HoldEnded(known, max(0.0, at - started[0]))


def event_time(event: Any, fallback: Callable[[], float]) -> float:
    """When the switch fired the event (Event-Date-Timestamp, microseconds), else `fallback()`."""
    raw = event.get(commands.H_EVENT_DATE_TIMESTAMP) or ""
    return int(raw) / 1e6 if raw.isdigit() else fallback()


def legs_of(event: Any) -> tuple[str, ...]:
    """The channel's own uuid, then the legs it is bridged to, as the event names them."""
    found = (event.get(commands.H_UNIQUE_ID), event.variable(commands.VAR_BRIDGE_UUID),
             event.get(commands.H_OTHER_LEG_UUID))
    return tuple(dict.fromkeys(uuid for uuid in found if uuid))


class HoldRecorder:
    """An event handler for `InboundConnection.add_handler`; never blocks (the write runs in `spawn`)."""

    def __init__(self, add_hold: Callable[[tuple[str, ...], float], Any], clock: Callable[[], float],
                 spawn: Callable[..., Any]) -> None:
        self.add_hold, self.clock, self.spawn = add_hold, clock, spawn
        self.holds = HoldClock()

    def __call__(self, event: Any) -> None:
        name = event.name
        if name == commands.EV_CHANNEL_HOLD:
            legs = legs_of(event)
            if legs:
                self.holds.held(legs[0], event_time(event, self.clock), legs)
        elif name in ENDS:
            legs = legs_of(event)
            ended = self.holds.released(legs[0], event_time(event, self.clock), legs) if legs else None
            if ended is not None:
                self.spawn(self._write, ended)

    def _write(self, ended: HoldEnded) -> None:
        try:
            if self.add_hold(ended.legs, ended.seconds) is None:
                log.info("hold of %.1f s on %s: no interaction for it", ended.seconds, ended.legs[0])
        except Exception:  # the store is down: the hold is lost, the call goes on
            log.warning("hold of %.1f s on %s not stored", ended.seconds, ended.legs[0], exc_info=True)
