"""Campaign configuration: the typed model, loaded from YAML (file:line errors) and kept in the campaigns table.

How it works: `load_campaign(path)` reads a YAML file with engine.yamlsrc and `parse_campaign()` checks
every field (unknown keys, modes, durations, windows, retry rules, the agent script compiled in the
IVR's Jinja2 sandbox), raising SourceError at the offending line. The validated mapping is stored as
`settings["config"]` of the campaign row, so `from_stored()` rebuilds the same model for the dialer.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dialer.strategy import OFFER_TARGETS, Route, StrategyRule, route
from engine.ivr.hours import WeeklySchedule, parse_weekly
from engine.ivr.templates import Template, TemplateCompileError, TemplateEngine
from engine.yamlsrc import LocatedYaml, SourceError, load_file

MODES = ("manual", "preview", "progressive", "predictive", "agentless")
PURPOSES = ("marketing", "service", "collections", "survey")
OUTCOMES = ("busy", "no_answer", "machine", "failed", "invalid", "dropped", "interrupted")
SEGMENTS = ("prospect", "new", "loyal", "vip")
MACHINE_ACTIONS = ("hangup", "message", "agent")
MIN_RING_TIMEOUT_S = 15
MAX_SAFE_HARBOUR_S = 2.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
_CALLER_ID = re.compile(r"^\+?[0-9]{3,20}\Z")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
DEFAULT_RETRY = {"busy": ("10m", 3), "no_answer": ("2h", 3), "machine": ("1d", 2), "failed": ("30m", 2),
                 "invalid": ("0s", 0), "dropped": ("1h", 2), "interrupted": ("30m", 2)}
_KEYS = {"name", "description", "mode", "purpose", "queue", "agents", "ivr_flow", "script", "caller_id", "source",
         "calling_windows", "retry", "max_attempts", "abandon", "ring_timeout", "safe_harbour",
         "answering_machine", "strategy", "priority"}
_TEMPLATES = TemplateEngine()


@dataclass(frozen=True)
class RetryRule:
    """After an attempt ends with this outcome: wait `delay`, give up after `max_attempts` such outcomes."""

    delay: dt.timedelta
    max_attempts: int


@dataclass(frozen=True)
class ContactSource:
    """Where contacts come from: a CSV file, or customers matching a segment query."""

    csv: str | None = None
    segment: tuple[str, ...] = ()
    last_contact_before: dt.timedelta | None = None
    tags: tuple[str, ...] = ()
    value_tier_min: int | None = None
    value_tier_max: int | None = None

    @property
    def is_query(self) -> bool:
        return self.csv is None


@dataclass(frozen=True)
class AbandonTarget:
    """At most `rate` of live answers dropped, per campaign over `window` ("30d" or Ofcom-style "24h")."""

    rate: float = 0.03
    window: dt.timedelta = dt.timedelta(days=30)


@dataclass(frozen=True)
class CampaignConfig:
    """A validated campaign."""

    name: str
    mode: str
    purpose: str = "marketing"
    description: str = ""
    queue: str | None = None
    agents: tuple[str, ...] = ()
    ivr_flow: str | None = None
    script: Template | None = None
    caller_id: str | None = None
    source: ContactSource | None = None
    windows: WeeklySchedule | None = None
    retry: dict[str, RetryRule] = field(default_factory=dict)
    max_attempts: int = 5
    abandon: AbandonTarget = field(default_factory=AbandonTarget)
    ring_timeout_s: float = 25.0
    safe_harbour_message: str = "Sorry, all our agents are busy. We will call you back."
    safe_harbour_within_s: float = 2.0
    machine_detect: bool = True
    machine_action: str = "hangup"
    machine_message: str | None = None
    strategy: tuple[StrategyRule, ...] = ()
    priority: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def marketing(self) -> bool:
        return self.purpose == "marketing"

    @property
    def shortest_retry(self) -> dt.timedelta:
        """The smallest delay before any retry: how long an attempt whose result was lost keeps the contact."""
        delays = [r.delay for r in self.retry.values() if r.max_attempts > 0]
        return min(delays) if delays else dt.timedelta(hours=1)

    def route_for(self, customer: Any | None) -> Route:
        """Mode and offer order for a customer (strategy table, else the campaign's mode)."""
        return route(self.strategy, self.mode, customer)

    def render_script(self, customer: dict[str, Any], now: dt.datetime, call: dict[str, Any] | None = None) -> str:
        """The agent script for one customer (sandboxed Jinja2; TemplateRenderError if it cannot render)."""
        if self.script is None:
            return ""
        return self.script.render({"customer": customer, "call": call or {}, "vars": {},
                                   "language": customer.get("language") or "zh", "now": now})

    def next_step(self, outcome: str, outcome_count: int, attempts: int, now: dt.datetime
                  ) -> tuple[str, dt.datetime | None]:
        """What happens to a contact after an attempt: ("done"|"pending"|"exhausted"|"failed", next attempt at).

        `outcome_count` counts attempts that ended with this outcome (this one included); `attempts` all.
        An outcome without a retry rule ("answered", a disposition) completes the contact.
        """
        rule = self.retry.get(outcome)
        if rule is None:
            return "done", None
        if rule.max_attempts == 0:
            return "failed", None
        if outcome_count >= rule.max_attempts or attempts >= self.max_attempts:
            return "exhausted", None
        return "pending", now + rule.delay


def duration(value: Any) -> dt.timedelta:
    """"90s", "10m", "2h", "180d" or a number of seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 10m, 2h or 7d, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration like 30s, 10m, 2h or 7d, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return dt.timedelta(seconds=seconds)


def load_campaign(path: str | Path, known_flows: set[str] | None = None) -> CampaignConfig:
    """Load and validate a campaign YAML file; SourceError names file, line and field."""
    return parse_campaign(load_file(path), known_flows, default_name=Path(path).stem)


def from_stored(name: str, settings: dict[str, Any], mode: str = "progressive", queue: str | None = None
                ) -> CampaignConfig:
    """The config kept in a campaign row's settings (as `campaign create` stored it); a row created
    without one gets the defaults for its mode and queue."""
    raw = settings.get("config") if isinstance(settings, dict) else None
    data = dict(raw) if isinstance(raw, dict) else {"name": name, "mode": mode, "queue": queue}
    return parse_campaign(LocatedYaml(f"campaign {name} (stored)", data, {}), default_name=name)


def parse_campaign(doc: LocatedYaml, known_flows: set[str] | None = None, default_name: str = "") -> CampaignConfig:
    """Validate a campaign document."""
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "a campaign file must be a mapping (name, mode, queue, ...)")
    for key in data:
        if key not in _KEYS:
            raise doc.error((key,), f"unknown setting (known: {', '.join(sorted(_KEYS))})")
    p = _Parser(doc)
    name = str(data.get("name") or default_name)
    if not _NAME.match(name):
        raise doc.error(("name",), f"a campaign name is 1-100 letters, digits, '_', '.' or '-', got {name!r}")
    mode = p.choice("mode", MODES, "progressive")
    purpose = p.choice("purpose", PURPOSES, "marketing")
    queue = p.text("queue", 64) or None
    agents = tuple(str(a) for a in p.listof("agents", (str, int)))
    ivr_flow = p.text("ivr_flow", 64) or None
    strategy = p.strategy()
    modes = {mode, *(rule.mode for rule in strategy)}
    if "agentless" in modes:
        if not ivr_flow:
            raise doc.error(("ivr_flow",), "agentless dialing needs ivr_flow: the IVR flow to run on answer")
        if known_flows is not None and ivr_flow not in known_flows:
            raise doc.error(("ivr_flow",), f"no IVR flow named {ivr_flow!r} (known: {', '.join(sorted(known_flows))})")
    if modes - {"agentless"} and not queue and not agents:
        raise doc.error(("queue",), f"{mode} dialing needs a queue or agents to connect answered calls to")
    script = None
    if "script" in data:
        source = p.text("script", 20000)
        try:
            script = _TEMPLATES.template(source)
        except TemplateCompileError as exc:
            line, column = doc.where(("script",))
            raise SourceError(doc.file, line + exc.line, column, "script", str(exc)) from None
    caller_id = p.text("caller_id", 21) or None
    if caller_id and not _CALLER_ID.match(caller_id):
        raise doc.error(("caller_id",), f"expected a phone number (digits, optional +), got {caller_id!r}")
    ring = p.seconds("ring_timeout", 25)
    if not MIN_RING_TIMEOUT_S <= ring <= 120:
        raise doc.error(("ring_timeout",), f"must be {MIN_RING_TIMEOUT_S}s to 120s (let the phone ring), got {ring:g}s")
    harbour = p.mapping("safe_harbour", {"message", "within"})
    within = p.seconds(("safe_harbour", "within"), 2.0) if "within" in harbour else 2.0
    if within > MAX_SAFE_HARBOUR_S:
        raise doc.error(("safe_harbour", "within"), f"the safe-harbour message must start within 2s, got {within:g}s")
    machine = p.mapping("answering_machine", {"detect", "action", "message"})
    action = p.choice(("answering_machine", "action"), MACHINE_ACTIONS, "hangup") if machine else "hangup"
    if action == "message" and not machine.get("message"):
        raise doc.error(("answering_machine", "message"), "action: message needs the message to leave")
    max_attempts = p.integer("max_attempts", 5, 1, 100)
    config = CampaignConfig(
        name=name, mode=mode, purpose=purpose, description=p.text("description", 500), queue=queue, agents=agents,
        ivr_flow=ivr_flow, script=script, caller_id=caller_id, source=p.source(), windows=p.windows(),
        retry=p.retry(), max_attempts=max_attempts, abandon=p.abandon(), ring_timeout_s=ring,
        safe_harbour_message=str(harbour.get("message") or CampaignConfig.safe_harbour_message)[:500],
        safe_harbour_within_s=within, machine_detect=bool(machine.get("detect", True)), machine_action=action,
        machine_message=str(machine["message"]) if machine.get("message") else None, strategy=strategy,
        priority=p.integer("priority", 0, -1000, 1000), raw={**data, "name": name})
    if config.source is not None and config.source.csv is not None:
        config.raw["source"] = {"csv": config.source.csv}  # resolved against the file's folder
    return config


class _Parser:
    """Field readers that raise located errors."""

    def __init__(self, doc: LocatedYaml) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data

    def _get(self, path: str | tuple, default: Any = None) -> tuple[tuple, Any]:
        keys = (path,) if isinstance(path, str) else tuple(path)
        value: Any = self.data
        for key in keys:
            if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
                value = value[key]
            elif isinstance(value, dict) and key in value:
                value = value[key]
            else:
                return keys, default
        return keys, value

    def text(self, path: str | tuple, limit: int) -> str:
        keys, value = self._get(path, "")
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.doc.error(keys, f"expected text, got {type(value).__name__}")
        text = str(value)
        if len(text) > limit or any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise self.doc.error(keys, f"expected at most {limit} characters without control characters")
        return text.strip() if limit <= 500 else text

    def choice(self, path: str | tuple, choices: tuple[str, ...], default: str) -> str:
        keys, value = self._get(path, default)
        if value not in choices:
            raise self.doc.error(keys, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def integer(self, path: str | tuple, default: int, low: int, high: int) -> int:
        keys, value = self._get(path, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.doc.error(keys, f"expected a whole number {low}..{high}, got {value!r}")
        return value

    def seconds(self, path: str | tuple, default: float) -> float:
        keys, value = self._get(path, default)
        try:
            return duration(value).total_seconds()
        except ValueError as exc:
            raise self.doc.error(keys, str(exc)) from None

    def listof(self, path: str | tuple, kinds: tuple[type, ...]) -> list[Any]:
        keys, value = self._get(path, [])
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, kinds) and not isinstance(v, bool) for v in value):
            raise self.doc.error(keys, "expected a list")
        return value

    def mapping(self, path: str | tuple, known: set[str]) -> dict[str, Any]:
        keys, value = self._get(path, {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.doc.error(keys, "expected a mapping")
        for key in value:
            if key not in known:
                raise self.doc.error(keys + (key,), f"unknown setting (known: {', '.join(sorted(known))})")
        return value

    def windows(self) -> WeeklySchedule | None:
        keys, value = self._get("calling_windows", None)
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise self.doc.error(keys, "expected days mapped to HH:MM-HH:MM, e.g. mon-fri: [09:00-12:00, 14:00-20:00]")
        schedule, problems = parse_weekly(value)
        if problems:
            day, message = problems[0]
            raise self.doc.error(keys + (day,), message)
        return schedule

    def retry(self) -> dict[str, RetryRule]:
        given = self.mapping("retry", set(OUTCOMES))
        rules: dict[str, RetryRule] = {}
        for outcome in OUTCOMES:
            delay, count = DEFAULT_RETRY[outcome]
            spec = given.get(outcome)
            if spec is not None:
                self.mapping(("retry", outcome), {"delay", "max_attempts"})
                keys = ("retry", outcome)
                count = self.integer(keys + ("max_attempts",), count, 0, 50)
                delay = self.seconds(keys + ("delay",), duration(delay).total_seconds())
                if count and delay < 60:
                    raise self.doc.error(keys + ("delay",), f"a retry needs at least 1m between attempts, got {delay:g}s")
            rules[outcome] = RetryRule(duration(delay), count)
        return rules

    def abandon(self) -> AbandonTarget:
        spec = self.mapping("abandon", {"target", "window"})
        rate = 0.03
        if "target" in spec:
            value = spec["target"]
            text = str(value).strip()
            try:
                rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
            except ValueError:
                raise self.doc.error(("abandon", "target"), f"expected a rate like 3% or 0.03, got {value!r}") from None
            if not 0 <= rate <= 0.5:
                raise self.doc.error(("abandon", "target"), f"expected 0% to 50%, got {value!r}")
        window = spec.get("window", "30d")
        if window not in ("30d", "24h"):
            raise self.doc.error(("abandon", "window"), f"expected 30d (per campaign) or 24h (Ofcom-style), got {window!r}")
        return AbandonTarget(rate, duration(window))

    def source(self) -> ContactSource | None:
        spec = self.mapping("source", {"csv", "segment", "last_contact_before", "tags", "value_tier"})
        if not spec:
            return None
        if "csv" in spec:
            if len(spec) > 1:
                raise self.doc.error(("source", "csv"), "a CSV source takes no query fields")
            path = Path(self.text(("source", "csv"), 1000))
            if not path.is_absolute() and self.doc.file and not self.doc.file.startswith("campaign "):
                path = Path(self.doc.file).resolve().parent / path
            return ContactSource(csv=str(path))
        segments = tuple(str(s).lower() for s in self.listof(("source", "segment"), (str,)))
        for s in segments:
            if s not in SEGMENTS:
                raise self.doc.error(("source", "segment"), f"unknown segment {s!r} ({', '.join(SEGMENTS)})")
        before = self.seconds(("source", "last_contact_before"), 0) if "last_contact_before" in spec else None
        tags = tuple(str(t) for t in self.listof(("source", "tags"), (str, int)))
        low = high = None
        tier = spec.get("value_tier")
        if isinstance(tier, int) and not isinstance(tier, bool):
            low = high = self.integer(("source", "value_tier"), 0, 0, 9)
        elif isinstance(tier, dict):
            self.mapping(("source", "value_tier"), {"min", "max"})
            low = self.integer(("source", "value_tier", "min"), 0, 0, 9) if "min" in tier else None
            high = self.integer(("source", "value_tier", "max"), 9, 0, 9) if "max" in tier else None
        elif tier is not None:
            raise self.doc.error(("source", "value_tier"), "expected a tier 0..9 or {min: N, max: N}")
        return ContactSource(None, segments, dt.timedelta(seconds=before) if before is not None else None, tags,
                             low, high)

    def strategy(self) -> tuple[StrategyRule, ...]:
        keys, value = self._get("strategy", [])
        if not isinstance(value, list):
            raise self.doc.error(keys, "expected a list of {segment, mode, offer} rules")
        rules = []
        for i, item in enumerate(value):
            at = ("strategy", i)
            if not isinstance(item, dict):
                raise self.doc.error(at, "expected a mapping with segment, mode and offer")
            self.mapping(at, {"segment", "mode", "offer"})
            segments = [str(s).lower() for s in self.listof(at + ("segment",), (str,))]
            if not segments or any(s not in SEGMENTS for s in segments):
                raise self.doc.error(at + ("segment",), f"expected segments among {', '.join(SEGMENTS)}")
            mode = self.choice(at + ("mode",), MODES, "")
            offer = tuple(str(o) for o in self.listof(at + ("offer",), (str,))) or ("group",)
            for o in offer:
                if o not in OFFER_TARGETS:
                    raise self.doc.error(at + ("offer",), f"unknown offer target {o!r} ({', '.join(OFFER_TARGETS)})")
            rules.append(StrategyRule(frozenset(segments), mode, offer))
        return tuple(rules)
