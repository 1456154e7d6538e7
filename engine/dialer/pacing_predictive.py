"""Jinqiao's predictive pacing: place a call only while its own chance of being abandoned stays under a threshold.

How it works. From the history the policy estimates (refreshed every 30 s, on recent calls only, so a
drifting answer rate is followed):
- for a call of ring age r, the chance it becomes a live answer within the next a seconds
  (g(r, a) = live answers with ring time in (r, r + a] / calls still unresolved at r);
- for an agent connected e seconds ago and still talking, the chance of being free again (talk and
  wrap-up done) within h seconds: the conditional survival of the observed talk times (Kaplan-Meier,
  talks in progress censored) shifted by the mean wrap-up of calls of that length (short calls, such as
  machines, have other wrap-ups than conversations); agents in wrap-up free at a known time.
At each decision it looks at six answer times a (quantiles of the ring time of live answers). A new call
answered live at a finds an agent if the agents free by a + 2 s (the safe harbour) outnumber the live
answers that reach the queue before it (the calls waiting, the ringing calls, and the new calls placed
before it). Supply and demand are sums of independent Bernoulli variables; their difference is taken as
normal (continuity and skewness corrected). The k-th new call is placed while
P(no agent for it | it is live) <= theta. theta is the marginal abandon risk we accept; an integral
controller moves log(theta) by the gap between today's abandons and the aimed share (target_pct - margin_pct)
of today's live answers, so model errors are corrected from the observed rate.
With few agents logged in (<= small_team) theta is capped low (near-progressive), and until enough calls
are observed the policy is progressive.
"""
from __future__ import annotations

import math

from engine.dialer.pacing import PacingError, PacingState, Progressive, parse_options

SAFE_HARBOUR_SECONDS = 2.0
REFRESH_SECONDS = 30.0
RING_BINS = 90          # ring ages tracked, seconds
TALK_BINS = 7200        # talk times tracked, seconds
RECENT_SECONDS = 1200.0  # estimates use calls resolved in the last 20 minutes...
RECENT_MIN_CALLS = 400   # ...or at least this many of the latest calls
SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)
GAIN_TEAM = 25  # agents: below this the controller's step grows as 25 / agents
LONG_TALK = 20  # seconds: talks at least this long are conversations, shorter ones machines or hang-ups
MIN_LIVE_ANSWERS = 20  # live answers seen before the model is trusted...
MIN_HANDLED = 15  # ...and calls handled (talks in progress are censored, so few are enough)
THETA_LARGE_TEAM = 0.05  # theta to start from with at least LARGE_TEAM agents (0.03 below)
LARGE_TEAM = 50
ANSWER_QUANTILES = tuple((2 * i + 1) / 12 for i in range(6))  # answer times the risk is averaged over


def _below_half(mean: float, var: float, third: float) -> float:
    """P(X <= 0) for an integer sum of independent +/-Bernoulli terms with these mean, variance and third
    central moment: normal with continuity correction and a one-term Edgeworth (skewness) correction."""
    if var < 1e-9:
        return 1.0 if mean < 0.5 else 0.0
    sd = math.sqrt(var)
    z = (0.5 - mean) / sd
    p = 0.5 * math.erfc(-z / SQRT2) - third / (6.0 * var * sd) * (z * z - 1.0) * math.exp(-0.5 * z * z) / SQRT2PI
    return min(1.0, max(0.0, p))


class JinqiaoPolicy:
    """Model-based predictive pacing with an integral correction on the observed abandon rate."""

    def __init__(self, target_pct: float = 3.0, margin_pct: float = 0.3, theta: float | None = None,
                 small_team: int = 5, small_theta: float = 0.03, gain: float = 0.03,
                 max_lines_per_agent: float = 6.0) -> None:
        if not 0.0 < target_pct - margin_pct < 100.0:
            raise PacingError("pacing policy jinqiao: target - margin must be between 0 and 100 %")
        self.name = f"jinqiao:target={target_pct:g},margin={margin_pct:g}"
        self.aim = (target_pct - margin_pct) / 100.0
        self.theta0 = theta  # None: chosen by team size when the first snapshot comes
        self.log_theta = math.log(theta) if theta is not None else 0.0
        self.small_team = small_team
        self.small_theta = small_theta
        self.gain = gain
        self.max_lines_per_agent = max_lines_per_agent
        self._progressive = Progressive()
        self._next_refresh: float | None = None
        self._seen_live = self._seen_abandoned = 0
        self._ready_model = False
        self._cum_live: list[float] = []
        self._alive: list[float] = []
        self._answer_points: list[int] = []
        self._talk_survival: list[float] = []
        self._wrap_long = self._wrap_short = 0

    @property
    def theta(self) -> float:
        return math.exp(self.log_theta)

    def calls_to_place(self, state: PacingState, now: float) -> int:
        if state.agents_logged_in <= 0:
            return 0
        if self.theta0 is None:
            team = state.agents_logged_in - state.agents_paused
            self.theta0 = THETA_LARGE_TEAM if team >= LARGE_TEAM else 0.03
            self.log_theta = math.log(self.theta0)
        if self._next_refresh is None or now >= self._next_refresh:
            self._refresh(state, now)
            self._next_refresh = now + REFRESH_SECONDS
        self._control(state, now)
        if not self._ready_model:
            return self._progressive.calls_to_place(state, now)
        theta = self.theta
        if state.agents_logged_in - state.agents_paused <= self.small_team:
            theta = min(theta, self.small_theta)
        lines = len(state.ringing_started) + state.calls_waiting + len(state.talk_started)
        room = int(self.max_lines_per_agent * (state.agents_logged_in - state.agents_paused)) - lines
        if room <= 0:
            return 0
        return min(room, self._calls_under(theta, state, now))

    # the model
    def _calls_under(self, theta: float, state: PacingState, now: float) -> int:
        cum, alive = self._cum_live, self._alive
        last_talk = len(self._talk_survival) - 1
        points = []
        ringing_ages = [min(int(now - t), RING_BINS - 1) for t in state.ringing_started]
        talk_ages = [min(int(now - t), last_talk) for t in state.talk_started]
        for a in self._answer_points:
            horizon = a + SAFE_HARBOUR_SECONDS
            mean = float(state.agents_ready - state.calls_waiting)
            var = skew = 0.0
            for end in state.wrap_up_ends:
                if end <= now + horizon:
                    mean += 1.0
            h = int(horizon)
            for e in talk_ages:
                f = self._free_within(e, h)
                v = f * (1.0 - f)
                mean += f
                var += v
                skew += v * (1.0 - 2.0 * f)
            for r in ringing_ages:
                if alive[r] <= 0:
                    continue
                g = (cum[min(r + a, RING_BINS)] - cum[r]) / alive[r]
                v = g * (1.0 - g)
                mean -= g
                var += v
                skew -= v * (1.0 - 2.0 * g)
            c = cum[a]
            cv = c * (1.0 - c)
            points.append((mean, var, skew, c, cv, -cv * (1.0 - 2.0 * c)))
        weight = 1.0 / len(points)
        k = 0
        while True:
            risk = 0.0
            for mean, var, skew, c, cv, cskew in points:
                risk += weight * _below_half(mean - k * c, var + k * cv, skew + k * cskew)
            if risk > theta:
                return k
            k += 1

    def _free_within(self, e: int, h: int) -> float:
        """P(an agent talking for e s is free within h s): talk over by h - wrap-up, given it lasted e."""
        survival = self._talk_survival
        last = len(survival) - 1
        s_e = survival[e]
        if s_e <= 0:
            return 1.0
        if e >= LONG_TALK:
            end = e + h - self._wrap_long
            return 1.0 - survival[min(end, last)] / s_e if end > e else 0.0
        done = 0.0
        end = min(LONG_TALK, e + h - self._wrap_short)  # short talks ending in [e, end)
        if end > e:
            done += s_e - survival[end]
        end = e + h - self._wrap_long  # long talks ending in [LONG_TALK, end)
        if end > LONG_TALK:
            done += survival[LONG_TALK] - survival[min(end, last)]
        return done / s_e

    def _refresh(self, state: PacingState, now: float) -> None:
        history = state.history
        recent = []
        for item in reversed(history.resolutions):
            if item[0] < now - RECENT_SECONDS and len(recent) >= RECENT_MIN_CALLS:
                break
            recent.append(item)
        live_rings = sorted(min(int(ring), RING_BINS - 1) for _, ring, routed in recent if routed)
        handled = list(history.handled)
        talks = [t for t, _ in handled]
        if len(live_rings) < MIN_LIVE_ANSWERS or len(talks) < MIN_HANDLED:
            self._ready_model = False
            return
        n = float(len(recent))
        live_at = [0] * RING_BINS
        ended_at = [0] * RING_BINS
        for _, ring, routed in recent:
            b = min(int(ring), RING_BINS - 1)
            ended_at[b] += 1
            if routed:
                live_at[b] += 1
        # cum[b]: share of calls routed live at a ring time below b s; alive[b]: share not resolved before b s
        cum, alive, run_live, run_ended = [0.0], [], 0, 0
        for b in range(RING_BINS):
            alive.append((n - run_ended) / n)
            run_live += live_at[b]
            run_ended += ended_at[b]
            cum.append(run_live / n)
        self._cum_live, self._alive = cum, alive
        m = len(live_rings)
        self._answer_points = [min(RING_BINS, live_rings[min(m - 1, int(q * m))] + 1) for q in ANSWER_QUANTILES]
        # Kaplan-Meier on 1 s bins: talks still going are censored at their age (without them, the first
        # minutes of a day would only have seen the short talks and predict agents free too soon)
        deaths = [0] * TALK_BINS
        censored = [0] * TALK_BINS
        for t in talks:
            deaths[min(int(t), TALK_BINS - 1)] += 1
        for started in state.talk_started:
            censored[min(int(now - started), TALK_BINS - 1)] += 1
        survival, at_risk, s = [], float(len(talks) + len(state.talk_started)), 1.0
        for b in range(TALK_BINS):
            survival.append(s)
            if at_risk > 0 and deaths[b]:
                s *= 1.0 - deaths[b] / at_risk
            at_risk -= deaths[b] + censored[b]
        self._talk_survival = survival
        long_wraps = [w for t, w in handled if t >= LONG_TALK]
        short_wraps = [w for t, w in handled if t < LONG_TALK]
        self._wrap_long = round(sum(long_wraps) / len(long_wraps)) if long_wraps else 0
        self._wrap_short = round(sum(short_wraps) / len(short_wraps)) if short_wraps else self._wrap_long
        self._ready_model = True

    def _control(self, state: PacingState, now: float) -> None:
        """Integral correction of log(theta) on today's abandon count against the aimed share of live answers.

        Each live answer whose fate is known raises log(theta) by gain x aim and each abandon lowers it by
        gain, so theta settles where today's abandon rate equals the aim; the step is per call, not per
        second, so quiet and busy campaigns correct alike. Clamped (which also stops wind-up)."""
        history = state.history
        live, abandoned = history.live_answers, history.abandoned
        # smaller teams see fewer calls an hour: a larger step keeps the correction per hour comparable
        gain = self.gain * max(1.0, GAIN_TEAM / max(1, state.agents_logged_in - state.agents_paused))
        self.log_theta += gain * (self.aim * (live - self._seen_live) - (abandoned - self._seen_abandoned))
        self.log_theta = max(math.log(0.002), min(math.log(0.5), self.log_theta))
        self._seen_live, self._seen_abandoned = live, abandoned


def jinqiao_policy(spec: str, rest: str) -> JinqiaoPolicy:
    """Build from `k=v,...` options: target, margin, theta, small_team, small_theta, gain."""
    options = parse_options(rest, spec, {"target": float, "margin": float, "theta": float,
                                         "small_team": int, "small_theta": float, "gain": float})
    return JinqiaoPolicy(target_pct=float(options.get("target", 3.0)),  # type: ignore[arg-type]
                         margin_pct=float(options.get("margin", 0.3)),  # type: ignore[arg-type]
                         theta=float(options["theta"]) if "theta" in options else None,  # type: ignore[arg-type]
                         small_team=int(options.get("small_team", 5)),  # type: ignore[arg-type]
                         small_theta=float(options.get("small_theta", 0.03)),  # type: ignore[arg-type]
                         gain=float(options.get("gain", 0.03)))  # type: ignore[arg-type]
