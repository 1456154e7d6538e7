"""A simulated caller's keys: pressed when the flow is listening for digits, or at a fixed time after answer.

How it works: a flow listens while a digit-collecting app (`play_and_get_digits`, `read`) runs on the
channel. `press_keys` follows the channel's app runs (`Channel.apps`, in order); a key group without a
time waits for the next run of a listening app that has not been answered yet and queues its digits
while that app runs, so keys never land in a welcome prompt that ignores them. A group with `at`
is pressed that many (unscaled) seconds after answer, whatever is playing.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from engine.sim.channel import Channel  # imported lazily: the `jinqiao` CLI parses keys without gevent

LISTENING_APPS = frozenset({"play_and_get_digits", "read"})
_GROUP = re.compile(r"([0-9*#A-Da-d]+)(?:@(\d+(?:\.\d+)?))?")
POLL_SECONDS = 0.25  # a look at the channel when no app start woke the driver (hang-up, another waiter)


@dataclass(frozen=True)
class KeyPress:
    """Digits the caller presses: at the next prompt that listens (`at` None), or `at` seconds after answer."""

    digits: str
    at: float | None = None


def parse_keys(text: str) -> list[KeyPress]:
    """`1,880012345678#,9@12.5` -> one KeyPress per comma-separated group; raises ValueError naming the bad one."""
    presses = []
    for group in (g.strip() for g in text.split(",")):
        if not group:
            continue
        match = _GROUP.fullmatch(group)
        if match is None:
            raise ValueError(f"bad key group {group!r}: expected digits 0-9 * # A-D, optionally @SECONDS "
                             "(e.g. 1, 880012345678#, 9@12.5)")
        presses.append(KeyPress(match.group(1).upper(), float(match.group(2)) if match.group(2) else None))
    return presses


def listening_now(ch: Channel, after: int = 0) -> int | None:
    """Index in `ch.apps` of the listening app running now, if it started at or after index `after`."""
    if ch.current_app not in LISTENING_APPS:
        return None
    for index in range(len(ch.apps) - 1, after - 1, -1):
        if ch.apps[index][0] == ch.current_app:
            return index
    return None


def press_keys(ch: Channel, presses: list[KeyPress], on_press: Callable[[KeyPress], None] | None = None) -> None:
    """Press each group in turn (see module doc); returns when all are pressed or the channel is gone."""
    import gevent

    sw = ch.switch
    answered_at: float | None = None
    next_run = 0  # apps before this index have been used by an earlier group
    for press in presses:
        if press.at is not None:
            while ch.up and not ch.answered:
                ch.answered_evt.wait(POLL_SECONDS * 10)
            if not ch.up:
                return
            if answered_at is None:
                answered_at = time.monotonic()
            delay = answered_at + sw.scaled(press.at) - time.monotonic()
            if delay > 0 and ch.hungup.wait(delay):
                return
        else:
            while True:
                ch.app_changed.clear()  # before looking, so an app starting after the look wakes the wait
                index = listening_now(ch, next_run)
                if index is not None or not ch.up:
                    break
                ch.app_changed.wait(POLL_SECONDS)
            if index is None:
                return
            next_run = index + 1
        if not ch.up:
            return
        ch.queue_dtmf(press.digits)
        if on_press is not None:
            on_press(press)
        gevent.sleep(0)
