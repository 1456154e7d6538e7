"""ACD domain values: agents and their states, queue configuration, and callers waiting in a queue.

Pure data: no FreeSWITCH strings, no sockets, no clocks (every time is a float of seconds passed in).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping


class AgentState(enum.Enum):
    """Where an agent is in the offer cycle."""

    LOGGED_OUT = "logged-out"
    AVAILABLE = "available"
    RINGING = "ringing"  # reserved for exactly one offer; never offered a second call
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    NOT_READY = "not-ready"
    RESERVED = "reserved"  # held for one outbound call or preview (dialer); never offered an inbound call


class Strategy(enum.Enum):
    """How a queue chooses among the agents who could take a caller."""

    LONGEST_IDLE = "longest-idle"
    LEAST_CALLS = "least-calls"
    LEAST_TALK_TIME = "least-talk-time"
    ROUND_ROBIN = "round-robin"
    RING_ALL = "ring-all"
    RANDOM = "random"
    SKILLS_BY_PROFICIENCY = "skills-by-proficiency"


class ExitAction(enum.Enum):
    """What happens to a caller who leaves the queue without reaching an agent."""

    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"


class RecordPolicy(enum.Enum):
    """Whether the queue records the bridged conversation."""

    NEVER = "never"
    ALWAYS = "always"


@dataclass
class Agent:
    """One agent: identity, state, memberships with per-queue skill levels, and counters."""

    agent_id: str
    extension: str = ""
    name: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    not_ready_reason: str = ""
    registered: bool = True
    skills: dict[str, int] = field(default_factory=dict)  # default proficiency per skill (1..10)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)  # queue -> skill overrides
    idle_since: float = 0.0
    wrap_up_until: float = 0.0
    calls_handled: int = 0
    talk_seconds: float = 0.0
    consecutive_no_answers: int = 0
    current_call: str | None = None  # call id while ringing / on call / in wrap-up
    answered_at: float = 0.0

    def skill_level(self, queue: str, skill: str) -> int:
        """This agent's proficiency at `skill` when serving `queue` (0 when absent)."""
        override = self.queues.get(queue)
        if override and skill in override:
            return override[skill]
        return self.skills.get(skill, 0)

    def qualifies(self, queue: str, requirement: Mapping[str, int]) -> bool:
        """True when the agent meets every minimum level of `requirement` in `queue`."""
        return all(self.skill_level(queue, s) >= lvl for s, lvl in requirement.items())

    def proficiency(self, queue: str, requirement: Mapping[str, int]) -> int:
        """Sum of the agent's levels on the required skills (higher is better)."""
        return sum(self.skill_level(queue, s) for s in requirement)

    @property
    def can_take_offer(self) -> bool:
        return self.state is AgentState.AVAILABLE and self.registered


@dataclass(frozen=True)
class PriorityRule:
    """Caller features -> base priority. Every given condition must match; tags match when any is present."""

    priority: int
    segment: str | None = None
    value_tier: str | None = None
    tags: tuple[str, ...] = ()

    def matches(self, features: Mapping[str, object]) -> bool:
        if self.segment is not None and features.get("segment") != self.segment:
            return False
        if self.value_tier is not None and str(features.get("value_tier")) != self.value_tier:
            return False
        if self.tags:
            have = features.get("tags") or ()
            if not any(t in have for t in self.tags):
                return False
        return True


@dataclass(frozen=True)
class OverflowStep:
    """After `after` seconds of waiting: widen skills, lower proficiency, add queues, or leave with an action."""

    after: float
    drop_skills: tuple[str, ...] = ()
    lower_proficiency: int = 0
    add_queues: tuple[str, ...] = ()
    action: ExitAction | None = None


@dataclass(frozen=True)
class StickyPolicy:
    """Prefer the caller's last or owner agent for at most `max_wait` seconds."""

    mode: str = "last"  # last | owner
    max_wait: float = 20.0


@dataclass(frozen=True)
class RecordingPolicy:
    """Whether and how the queue records calls."""

    policy: RecordPolicy = RecordPolicy.NEVER
    stereo: bool = True
    path_template: str = "{date}/{queue}/{call_id}.wav"
    announce: str = ""


@dataclass(frozen=True)
class QueueConfig:
    """One queue, as validated from `acd.queues.<name>`."""

    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    skills: Mapping[str, int] = field(default_factory=dict)
    priority_rules: tuple[PriorityRule, ...] = ()
    aging_per_minute: float = 1.0  # priority points a caller gains per minute waited
    sticky: StickyPolicy | None = None
    overflow: tuple[OverflowStep, ...] = ()
    max_wait: float = 0.0  # 0 = unlimited
    max_wait_action: ExitAction = ExitAction.CALLBACK
    max_length: int = 0  # 0 = unlimited
    moh: str = ""
    announce_every: float = 0.0
    exit_keys: Mapping[str, ExitAction] = field(default_factory=dict)
    wrap_up_seconds: float = 10.0
    offer_timeout: float = 20.0
    max_no_answer: int = 3  # consecutive unanswered offers before auto-pause
    record: RecordingPolicy = field(default_factory=RecordingPolicy)
    abandon_callback: bool = True
    random_seed: int = 0
    whisper: str = ""  # said or played to the agent after answering, before the bridge (see whisper.py)
    preserve_scarce_agents: bool = True  # spare agents other queues depend on (see routing.py)

    def base_priority(self, features: Mapping[str, object]) -> int:
        """The highest priority of any matching rule (0 when none match)."""
        return max((r.priority for r in self.priority_rules if r.matches(features)), default=0)


@dataclass
class WaitingCaller:
    """A caller waiting in a queue for an agent."""

    call_id: str
    queue: str
    enqueued_at: float
    priority: int = 0
    required_skills: Mapping[str, int] = field(default_factory=dict)
    sticky_agent: str | None = None
    sticky_until: float | None = None  # overrides the queue's sticky window (direct transfers to an agent)
    features: Mapping[str, object] = field(default_factory=dict)
    max_wait: float = 0.0  # this caller's own limit (e.g. from the IVR node); 0 = the queue's
    callback: bool = False  # a virtual caller (agent-first callback): max wait and leave-actions don't apply
    overflow_step: int = 0  # how many overflow steps have been applied
    extra_queues: tuple[str, ...] = ()
    offered_to: tuple[str, ...] = ()  # agents currently ringing for this caller
    declined_by: set[str] = field(default_factory=set)  # agents who did not answer this caller
    version: int = 0  # bumped whenever the caller's requirement changes (stale index entries skipped)

    def waited(self, now: float) -> float:
        return max(0.0, now - self.enqueued_at)
