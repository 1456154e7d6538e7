"""Called-party population: a seeded model of who answers an outbound dial, and the ground-truth log of each try."""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.sim.endpoints import Destination

if TYPE_CHECKING:
    from engine.sim.channel import Channel

# outcomes a population draws (the Destination outcome is "answer" for a human)
HUMAN, MACHINE, BUSY, UNALLOCATED, NO_ANSWER = "human", "machine", "busy", "unallocated", "no_answer"
_DEST_OUTCOME = {HUMAN: "answer", MACHINE: "machine", BUSY: "busy", UNALLOCATED: "unallocated",
                 NO_ANSWER: "no_answer"}
_FLOAT_KEYS = ("answer", "machine", "busy", "unallocated", "fast_ring", "talk_median", "talk_sigma",
               "greeting_min", "greeting_max", "machine_record", "beep_frequency")


@dataclass
class Population:
    """Shares of dialled numbers: `answer` (a human), `machine`, `busy`, `unallocated`; the rest ring unanswered
    until the originate's timeout. Seconds are unscaled (the sim multiplies them by its time_scale).

    - Ring time until answer is bimodal: `fast_ring` of answers come after 6-10 s, the others after 18-22 s.
    - A human talks for a lognormal time (median `talk_median`, sigma `talk_sigma`), then hangs up (BYE) unless
      the engine hung up first.
    - A machine greets for `greeting_min`..`greeting_max` s, beeps (`BEEP_SECONDS`, at `beep_frequency` Hz),
      records for `machine_record` s, then hangs up.
    - Unallocated numbers: those in `unallocated_numbers`, those starting with one of `unallocated_prefixes`, and
      an `unallocated` share drawn per (seed, number) - the same number stays unallocated on every attempt.
      Every other draw is per (seed, number, attempt), attempt counting from 1 per number.
    """

    answer: float = 0.3
    machine: float = 0.1
    busy: float = 0.05
    unallocated: float = 0.02
    seed: int = 0
    fast_ring: float = 0.7
    talk_median: float = 45.0
    talk_sigma: float = 0.8
    greeting_min: float = 6.0
    greeting_max: float = 14.0
    machine_record: float = 30.0
    beep_frequency: float = 1000.0
    unallocated_numbers: frozenset[str] = frozenset()
    unallocated_prefixes: tuple[str, ...] = ()

    BEEP_SECONDS = 0.5

    def __post_init__(self) -> None:
        for name in ("answer", "machine", "busy", "unallocated", "fast_ring"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError("population %s: expected a share between 0 and 1, got %r" % (name, value))
        if self.answer + self.machine + self.busy > 1.0 + 1e-9:
            raise ValueError("population: answer + machine + busy is %g, more than 1"
                             % (self.answer + self.machine + self.busy))
        if self.greeting_min > self.greeting_max or self.greeting_min < 0:
            raise ValueError("population: greeting_min must be >= 0 and <= greeting_max")
        if self.talk_median <= 0 or self.talk_sigma < 0 or self.machine_record < 0:
            raise ValueError("population: talk_median > 0, talk_sigma >= 0 and machine_record >= 0 are required")

    @classmethod
    def parse(cls, spec: str) -> Population:
        """`answer=0.3,machine=0.1,busy=0.05,unallocated=0.02,seed=7[,unallocated_prefix=0000][,...]`."""
        kwargs: dict[str, Any] = {}
        prefixes: list[str] = []
        for item in (p.strip() for p in spec.split(",")):
            if not item:
                continue
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise ValueError("population: %r is not key=value" % item)
            if key == "seed":
                try:
                    kwargs["seed"] = int(value)
                except ValueError:
                    raise ValueError("population seed: expected an integer, got %r" % value) from None
            elif key == "unallocated_prefix":
                prefixes.append(value)
            elif key in _FLOAT_KEYS:
                try:
                    kwargs[key] = float(value)
                except ValueError:
                    raise ValueError("population %s: expected a number, got %r" % (key, value)) from None
            else:
                raise ValueError("population: unknown key %r (one of seed, unallocated_prefix, %s)"
                                 % (key, ", ".join(_FLOAT_KEYS)))
        if prefixes:
            kwargs["unallocated_prefixes"] = tuple(prefixes)
        return cls(**kwargs)

    # -- the model (pure: no clock, no switch) --------------------------------------------------
    def _rng(self, *key: object) -> random.Random:
        digest = hashlib.sha256(":".join(str(k) for k in (self.seed,) + key).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def is_unallocated(self, number: str) -> bool:
        if number in self.unallocated_numbers or any(number.startswith(p) for p in self.unallocated_prefixes):
            return True
        return self._rng(number, "unallocated").random() < self.unallocated

    def plan(self, number: str, attempt: int) -> Plan:
        """What dialing `number` for the `attempt`-th time does (deterministic in seed, number, attempt)."""
        rng = self._rng(number, attempt)
        if self.is_unallocated(number):
            return Plan(number, attempt, UNALLOCATED, ring=round(rng.uniform(0.3, 1.0), 3))
        u = rng.random()
        if u < self.answer:
            outcome = HUMAN
        elif u < self.answer + self.machine:
            outcome = MACHINE
        elif u < self.answer + self.machine + self.busy:
            outcome = BUSY
        else:
            outcome = NO_ANSWER
        if outcome == BUSY:
            return Plan(number, attempt, BUSY, ring=round(rng.uniform(0.5, 2.0), 3))
        if outcome == NO_ANSWER:
            return Plan(number, attempt, NO_ANSWER)
        ring = rng.uniform(6.0, 10.0) if rng.random() < self.fast_ring else rng.uniform(18.0, 22.0)
        if outcome == HUMAN:
            talk = math.exp(rng.gauss(math.log(self.talk_median), self.talk_sigma))
            return Plan(number, attempt, HUMAN, ring=round(ring, 3), talk=round(talk, 3))
        greeting = rng.uniform(self.greeting_min, self.greeting_max)
        return Plan(number, attempt, MACHINE, ring=round(ring, 3), greeting=round(greeting, 3),
                    talk=round(greeting + self.BEEP_SECONDS + self.machine_record, 3))


@dataclass
class Plan:
    """One drawn attempt (unscaled seconds): ring until answer or failure, greeting, talk until the callee's BYE."""

    number: str
    attempt: int
    outcome: str
    ring: float | None = None
    talk: float | None = None          # answer -> callee hangs up (a machine: greeting + beep + recording)
    greeting: float | None = None      # a machine's greeting; the beep starts right after it


@dataclass
class Attempt:
    """Ground truth of one originate to a population number, completed when its leg is destroyed.

    Times are epochs (time.time()); `beep_at` is when the machine's beep starts (answer + greeting),
    `avmd_beep_at` when the simulated mod_avmd fired avmd::beep (None when it did not). `hung_up_by` is
    "callee" (BYE, or busy/unallocated refusal), "engine" (the originator hung up or cancelled) or "timeout"
    (the originate's timeout ended the ringing: NO_ANSWER)."""

    plan: Plan
    uuid: str = ""
    answered_at: float | None = None
    beep_at: float | None = None
    avmd_beep_at: float | None = None
    hangup_cause: str = ""
    hung_up_by: str | None = None
    done: bool = False

    @property
    def number(self) -> str:
        return self.plan.number

    @property
    def outcome(self) -> str:
        return self.plan.outcome

    @property
    def machine(self) -> bool:
        return self.plan.outcome == MACHINE

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "attempt": self.plan.attempt, "outcome": self.outcome, "uuid": self.uuid,
                "machine": self.machine, "answered_at": self.answered_at, "beep_at": self.beep_at,
                "avmd_beep_at": self.avmd_beep_at, "hangup_cause": self.hangup_cause,
                "hung_up_by": self.hung_up_by, "ring": self.plan.ring, "talk": self.plan.talk,
                "greeting": self.plan.greeting}


_CALLEE_CAUSES = {"USER_BUSY", "UNALLOCATED_NUMBER", "CALL_REJECTED", "NO_USER_RESPONSE"}


@dataclass
class PopulationDirectory:
    """A Population at work in one simulator: counts attempts per number, hands out Destinations, keeps the log."""

    population: Population
    attempts: dict[str, int] = field(default_factory=dict)
    log: list[Attempt] = field(default_factory=list)

    def dial(self, number: str) -> Destination:
        n = self.attempts.get(number, 0) + 1
        self.attempts[number] = n
        plan = self.population.plan(number, n)
        truth = Attempt(plan)
        self.log.append(truth)
        after = plan.ring if plan.ring is not None else 0.0
        return Destination(number, _DEST_OUTCOME[plan.outcome], after, plan.talk,
                           plan.greeting if plan.greeting is not None else 0.0,
                           truth=truth, beep_frequency=self.population.beep_frequency)

    def channel_destroyed(self, ch: Channel) -> None:
        """Complete the ground truth of a population leg from what the channel went through."""
        truth = getattr(ch.dest, "truth", None)
        if not isinstance(truth, Attempt) or truth.done:
            return
        truth.uuid = ch.uuid
        answered_us = ch.profile.times.get("Channel-Answered-Time", 0)
        truth.answered_at = answered_us / 1e6 if answered_us else None
        if truth.answered_at is not None and truth.plan.greeting is not None:
            truth.beep_at = truth.answered_at + ch.switch.scaled(truth.plan.greeting)
        truth.hangup_cause = ch.hangup_cause
        if ch.answered:
            truth.hung_up_by = "callee" if ch.get_var("sip_hangup_disposition") == "recv_bye" else "engine"
        elif ch.hangup_cause == "NO_ANSWER":
            truth.hung_up_by = "timeout"
        elif ch.hangup_cause in _CALLEE_CAUSES:
            truth.hung_up_by = "callee"
        else:
            truth.hung_up_by = "engine"
        truth.done = True

