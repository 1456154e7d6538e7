"""VICIdial's dial methods (RATIO and the ADAPT_* modes) as pacing policies, computed as VICIdial computes them.

How it works (after AST_VDadapt.pl and AST_VDauto_dial.pl; see /work/shared/VICIDIAL-PACING.md):
- every 1 s (VDadapt's loop) one sample of ready agents (READY/DONE), live answers waiting for an agent
  and logged-in agents (paused included); the last 15 samples are averaged;
- every 15 samples, for ADAPT_* methods: m = (D + T) / A with D = avg ready - avg waiting, A = avg logged
  in, T = the dial-level difference target; the intensity I scales m by (1 + I/100) when m >= 0, else by
  |I/100 - 1|; level = round(level x (1 + m), 3), clamped to [1, adaptive_maximum_level]; then the drop
  rules: last minute > 20 calls with drops / calls > 50 % halves the level; calls today > 50 with
  drops / human answers today above the dropped-percentage limit sets HARD_LIMIT to 1.0, halves AVERAGE,
  and multiplies TAPERED by min(1, (latest HHMM - now HHMM) / 1000) (1.0 once past the latest time);
  the level never goes below 1;
- drop statistics are refreshed every 60 s (first on the first pass); "answers" are agent-handled human
  calls plus the drops themselves (DROP is a human-answered status), machines handled by agents are not;
- every 2.5 s (auto_dial's loop): new calls = round(level x (ready + in call)) - (ringing + waiting + in
  call), agents in wrap-up (VICIdial's DEAD) not counted.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

from engine.dialer.pacing import PacingError, PacingState, parse_options, ratio_calls

METHODS = ("RATIO", "ADAPT_HARD_LIMIT", "ADAPT_AVERAGE", "ADAPT_TAPERED")
ADAPT_SAMPLE_SECONDS = 1.0
ADAPT_LEVEL_SAMPLES = 15
DROP_STATS_SECONDS = 60.0
AUTO_DIAL_LOOP_SECONDS = 2.5


def hhmm_of_day(now: float) -> int:
    """Local HHMM as a number (1430 for 14:30) when `now` is seconds since local midnight (the simulator)."""
    seconds = int(now) % 86400
    return (seconds // 3600) * 100 + (seconds % 3600) // 60


class VicidialPolicy:
    """One VICIdial campaign: its dial level controller (VDadapt) and its call placement loop (auto_dial)."""

    def __init__(self, method: str, level: float = 1.0, dropped_pct: float = 3.0, intensity: int = 0,
                 diff_target: int = 0, max_level: float = 3.0, latest_hhmm: int = 2100,
                 hhmm: Callable[[float], int] = hhmm_of_day) -> None:
        if method not in METHODS:
            raise PacingError(f"pacing policy vicidial:{method}: unknown method (use one of {', '.join(METHODS)})")
        if not -40 <= intensity <= 40:
            raise PacingError(f"pacing policy vicidial:{method}: intensity must be between -40 and 40")
        if level < 1.0 or max_level < 1.0:
            raise PacingError(f"pacing policy vicidial:{method}: level and max must be at least 1.0")
        self.method = method
        self.level = level
        self.dropped_pct = dropped_pct
        self.intensity = intensity
        self.diff_target = diff_target
        self.max_level = max_level
        self.latest_hhmm = latest_hhmm
        self.hhmm = hhmm
        self.name = f"vicidial:{method}" + (
            f":{level:g}" if method == "RATIO" else
            f":max={max_level:g},drop={dropped_pct:g}" + (f",intensity={intensity}" if intensity else "")
            + (f",diff={diff_target}" if diff_target else ""))
        self._samples: deque = deque(maxlen=ADAPT_LEVEL_SAMPLES)
        self._next_sample: float | None = None
        self._level_counter = 0
        self._next_drops: float | None = None
        self._next_dial: float | None = None
        self.calls_today = 0
        self.drops_answers_today_pct = 0.0
        self.calls_one = 0
        self.drops_one_pct = 0.0

    def calls_to_place(self, state: PacingState, now: float) -> int:
        if self.method != "RATIO":
            self._adapt(state, now)
        if self._next_dial is not None and now < self._next_dial:
            return 0
        self._next_dial = now + AUTO_DIAL_LOOP_SECONDS
        return ratio_calls(self.level, state)

    # AST_VDadapt.pl
    def _adapt(self, state: PacingState, now: float) -> None:
        if self._next_drops is None:
            self._next_drops = now
        if now >= self._next_drops:
            self._calculate_drops(state, now)
            self._next_drops = now + DROP_STATS_SECONDS
        if self._next_sample is not None and now < self._next_sample:
            return
        self._next_sample = now + ADAPT_SAMPLE_SECONDS
        self._samples.append((state.agents_ready, state.calls_waiting, state.agents_logged_in))
        self._level_counter += 1
        if self._level_counter >= ADAPT_LEVEL_SAMPLES:
            self._level_counter = 0
            self._calculate_dial_level(now)

    def _calculate_drops(self, state: PacingState, now: float) -> None:
        history = state.history
        self.calls_today = history.calls_resolved
        answers = history.connected_human + history.abandoned
        self.drops_answers_today_pct = round(100.0 * history.abandoned / max(answers, 1), 2)
        self.calls_one = history.count_since(history.resolved_times, now - 60.0)
        drops_one = history.count_since(history.abandon_times, now - 60.0)
        self.drops_one_pct = round(100.0 * drops_one / self.calls_one, 2) if self.calls_one else 0.0

    def _calculate_dial_level(self, now: float) -> None:
        n = len(self._samples)
        avg_ready = sum(s[0] for s in self._samples) / n
        avg_waiting = sum(s[1] for s in self._samples) / n
        avg_total = sum(s[2] for s in self._samples) / n
        if avg_total <= 0:
            return  # VDadapt recomputes only when the average of logged-in agents is above 0
        target = (avg_ready - avg_waiting) + self.diff_target
        mul = target / avg_total if target != 0 else 0.0
        intensity_mul = self.intensity / 100.0
        mul = mul * abs(intensity_mul - 1) if mul < 0 else mul * (intensity_mul + 1)
        level = round(self.level * (mul + 1), 3)
        level = min(level, self.max_level)
        level = max(level, 1.0)
        if self.calls_one > 20 and self.drops_one_pct > 50:
            level /= 2
        if self.calls_today > 50 and self.drops_answers_today_pct > self.dropped_pct:
            if self.method == "ADAPT_HARD_LIMIT":
                level = 1.0
            elif self.method == "ADAPT_AVERAGE":
                level /= 2
            else:
                left = self.latest_hhmm - self.hhmm(now)
                level = 1.0 if left < 0 else level * (1.0 if left > 1000 else left / 1000)
        self.level = max(level, 1.0)


def vicidial_policy(spec: str, rest: str) -> VicidialPolicy:
    """Build from `METHOD[:level]` or `METHOD:k=v,...` (level, drop, intensity, diff, max, latest)."""
    method, _, opts = rest.partition(":")
    method = method.upper()
    if method == "RATIO" and opts and "=" not in opts:
        try:
            level = float(opts)
        except ValueError:
            raise PacingError(f"pacing policy {spec!r}: RATIO needs a level, e.g. vicidial:RATIO:2.0") from None
        return VicidialPolicy("RATIO", level=level)
    options = parse_options(opts, spec, {"level": float, "drop": float, "intensity": int, "diff": int,
                                         "max": float, "latest": int})
    return VicidialPolicy(method, level=float(options.get("level", 1.0)),  # type: ignore[arg-type]
                          dropped_pct=float(options.get("drop", 3.0)),  # type: ignore[arg-type]
                          intensity=int(options.get("intensity", 0)),  # type: ignore[arg-type]
                          diff_target=int(options.get("diff", 0)),  # type: ignore[arg-type]
                          max_level=float(options.get("max", 3.0)),  # type: ignore[arg-type]
                          latest_hhmm=int(options.get("latest", 2100)))  # type: ignore[arg-type]
