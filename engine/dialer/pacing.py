"""Outbound pacing: how many calls to place now, as pure policies over a snapshot of agents and calls.

Interface (the production dialer and the simulator both use it):

- `PacingHistory` accumulates what the dialer observed today; the dialer reports facts as they happen:
  `call_placed(now)`, `call_resolved(now, ring_seconds, routed)` (a placed call ended its ringing: `routed`
  is True when it was answered and handed to the agent queue as a live answer, i.e. a human, or a machine
  the AMD passed as human, or any answer when there is no AMD), `call_connected(now, machine)` (an agent
  took a routed call), `call_abandoned(now, machine)` (a routed call found no agent within the safe-harbour
  seconds), and `call_handled(talk_seconds, wrap_up_seconds)` when the agent is free again.
- `PacingState` is one snapshot: agents logged in / ready / paused, when each agent on a call was connected
  (`talk_started`), when each agent in wrap-up is done (`wrap_up_ends`), when each call still ringing was
  placed (`ringing_started`), how many live answers wait for an agent (`calls_waiting`), and the history.
- `policy = make_policy(name)` with name `progressive`, `fixed:<ratio>`, `vicidial:<METHOD>[:k=v,...]`
  (RATIO, ADAPT_HARD_LIMIT, ADAPT_AVERAGE, ADAPT_TAPERED) or `jinqiao[:k=v,...]`;
  `policy.calls_to_place(state, now) -> int` is called often (about once a second); a policy may keep
  controller state between calls but reads time only from `now` (seconds; the simulator passes seconds
  since local midnight of the simulated day, which is what VICIdial's TAPERED mode reads as HHMM).

Policies never place a call when no agent is logged in. No gevent, sockets or store here.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, Sequence


class PacingError(ValueError):
    """A policy name or option that cannot be used, with a message naming it."""


@dataclass
class PacingHistory:
    """What the dialer observed today: daily counters, recent windows, and bounded samples for estimators."""

    calls_placed: int = 0
    calls_resolved: int = 0
    routed: int = 0
    connected_human: int = 0
    connected_machine: int = 0
    abandoned: int = 0
    abandoned_machine: int = 0
    # (resolved_at, ring_seconds, routed) of recent calls, newest last
    resolutions: deque = field(default_factory=lambda: deque(maxlen=6000))
    # (talk seconds, wrap-up seconds) of recent calls
    handled: deque = field(default_factory=lambda: deque(maxlen=2000))
    resolved_times: deque = field(default_factory=lambda: deque(maxlen=20000))
    abandon_times: deque = field(default_factory=lambda: deque(maxlen=20000))

    def call_placed(self, now: float) -> None:
        self.calls_placed += 1

    def call_resolved(self, now: float, ring_seconds: float, routed: bool) -> None:
        self.calls_resolved += 1
        self.routed += routed
        self.resolutions.append((now, ring_seconds, routed))
        self.resolved_times.append(now)

    def call_connected(self, now: float, machine: bool = False) -> None:
        if machine:
            self.connected_machine += 1
        else:
            self.connected_human += 1

    def call_abandoned(self, now: float, machine: bool = False) -> None:
        self.abandoned += 1
        self.abandoned_machine += machine
        self.abandon_times.append(now)

    def call_handled(self, talk_seconds: float, wrap_up_seconds: float) -> None:
        self.handled.append((talk_seconds, wrap_up_seconds))

    @property
    def live_answers(self) -> int:
        """Routed calls whose fate is known: connected to an agent or abandoned."""
        return self.connected_human + self.connected_machine + self.abandoned

    def abandon_rate(self) -> float:
        """Today's abandoned share of live answers (0 before any)."""
        return self.abandoned / self.live_answers if self.live_answers else 0.0

    def count_since(self, times: deque, since: float) -> int:
        """How many of the (sorted) times in `times` are at or after `since`."""
        n = 0
        for t in reversed(times):
            if t < since:
                break
            n += 1
        return n


@dataclass(frozen=True)
class PacingState:
    """One snapshot of a campaign's agents and calls, as seen by the dialer at `now`."""

    agents_logged_in: int
    agents_ready: int
    talk_started: Sequence[float] = ()
    wrap_up_ends: Sequence[float] = ()
    ringing_started: Sequence[float] = ()
    calls_waiting: int = 0
    history: PacingHistory = field(default_factory=PacingHistory)
    agents_paused: int = 0

    @property
    def agents_talking(self) -> int:
        return len(self.talk_started)


class PacingPolicy(Protocol):
    """A pacing policy: how many new calls to place at `now` for this snapshot."""

    name: str

    def calls_to_place(self, state: PacingState, now: float) -> int: ...


class Progressive:
    """Progressive 1:1: one call in flight per free agent (free agents minus calls ringing or waiting)."""

    name = "progressive"

    def calls_to_place(self, state: PacingState, now: float) -> int:
        if state.agents_logged_in <= 0:
            return 0
        return max(0, state.agents_ready - len(state.ringing_started) - state.calls_waiting)


class FixedRatio:
    """Fixed dial ratio, counted the way VICIdial's RATIO method counts it.

    goal = round(ratio x (ready + talking)); new calls = goal - (ringing + waiting + talking). Agents in
    wrap-up are not counted (VICIdial's DEAD agents), so ratio 1.0 equals progressive.
    """

    def __init__(self, ratio: float) -> None:
        if not 1.0 <= ratio <= 10.0:
            raise PacingError(f"pacing policy fixed:{ratio}: ratio must be between 1.0 and 10.0")
        self.ratio = ratio
        self.name = f"fixed:{ratio:g}"

    def calls_to_place(self, state: PacingState, now: float) -> int:
        return ratio_calls(self.ratio, state)


def ratio_calls(level: float, state: PacingState) -> int:
    """VICIdial's AST_VDauto_dial arithmetic: round(level x (ready + in call)) minus existing calls."""
    if state.agents_logged_in <= 0:
        return 0
    talking = len(state.talk_started)
    goal = round(level * (state.agents_ready + talking))  # Perl sprintf %.0f: round half to even
    exist = len(state.ringing_started) + state.calls_waiting + talking
    return max(0, goal - exist)


def parse_options(text: str, spec: str, allowed: dict[str, type]) -> dict[str, object]:
    """Parse `k=v,k=v` options of a policy spec; unknown keys or bad values raise PacingError."""
    options: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in allowed:
            raise PacingError(f"pacing policy {spec!r}: unknown option {part!r} (allowed: {', '.join(allowed)})")
        try:
            options[key] = allowed[key](value)
        except ValueError:
            raise PacingError(f"pacing policy {spec!r}: option {key} has a bad value {value!r}") from None
    return options


def make_policy(spec: str) -> PacingPolicy:
    """Build a policy from its name: progressive, fixed:<ratio>, vicidial:<METHOD>[:opts], jinqiao[:opts]."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "progressive" and not rest:
        return Progressive()
    if kind == "fixed":
        try:
            ratio = float(rest)
        except ValueError:
            raise PacingError(f"pacing policy {spec!r}: fixed needs a ratio, e.g. fixed:1.5") from None
        return FixedRatio(ratio)
    if kind == "vicidial":
        from engine.dialer.pacing_vicidial import vicidial_policy
        return vicidial_policy(spec, rest)
    if kind == "jinqiao":
        from engine.dialer.pacing_predictive import jinqiao_policy
        return jinqiao_policy(spec, rest)
    raise PacingError(f"pacing policy {spec!r}: unknown; use progressive, fixed:<ratio>, "
                      "vicidial:<RATIO|ADAPT_HARD_LIMIT|ADAPT_AVERAGE|ADAPT_TAPERED> or jinqiao")
