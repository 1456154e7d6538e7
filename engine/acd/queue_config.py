"""Validate the raw `acd` config mapping into QueueConfig values, with errors located in the YAML file.

Example:
    acd:
      queues:
        support:
          strategy: skills-by-proficiency
          skills: {mandarin: 3}
          priority_rules: [{segment: vip, priority: 10}]
          sticky: {mode: last, max_wait: 20}
          overflow: [{after: 60, drop_skills: [mandarin]}, {after: 300, action: callback}]
          max_wait: 600
          exit_keys: {"1": callback}
          record: always            # or {policy: always, stereo: true, path: "{date}/{call_id}.wav"}
          whisper: "VIP 客户 {{ customer.name }}"   # or an audio file; heard by the agent only
          preserve_scarce_agents: true  # default: of several free agents, offer the one other queues need least
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from engine.acd.models import (ExitAction, OverflowStep, PriorityRule, QueueConfig, RecordingPolicy,
                               RecordPolicy, StickyPolicy, Strategy)
from engine.acd.whisper import Whisper, WhisperError
from engine.yamlsrc import LocatedYaml, SourceError

_QUEUE_KEYS = {
    "strategy", "skills", "priority_rules", "aging_per_minute", "sticky", "overflow", "max_wait",
    "max_wait_action", "max_length", "moh", "announce_every", "exit_keys", "wrap_up_seconds",
    "offer_timeout", "max_no_answer", "record", "abandon_callback", "random_seed", "whisper",
    "preserve_scarce_agents",
}
_TOP_KEYS = {"queues", "recordings_dir", "reconcile_every", "callback_gateway", "screen_pop_webhooks",
             "agent_domain"}


class AcdConfigError(SourceError):
    """A problem in the `acd` configuration section, located at file:line:column."""


class _Checker:
    def __init__(self, source: LocatedYaml | None) -> None:
        self.source = source

    def fail(self, path: tuple, message: str) -> AcdConfigError:
        if self.source is None:
            err = LocatedYaml("<acd>", None, {(): (1, 1)}).error(path, message)
        else:
            err = self.source.error(path, message)
        return AcdConfigError(err.file, err.line, err.column, err.field_name, err.message)

    def number(self, value: Any, path: tuple, *, minimum: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"expected a number, got {value!r}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum:g}, got {value!r}")
        return float(value)

    def whole(self, value: Any, path: tuple, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected a whole number, got {value!r}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum}, got {value!r}")
        return value

    def mapping(self, value: Any, path: tuple) -> Mapping:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        return value

    def names(self, value: Any, path: tuple) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, "expected a list of names")
        return tuple(value)

    def choice(self, enum_cls: type, value: Any, path: tuple) -> Any:
        try:
            return enum_cls(value)
        except ValueError:
            known = ", ".join(e.value for e in enum_cls)
            raise self.fail(path, f"must be one of {known}, got {value!r}") from None

    def skills(self, value: Any, path: tuple) -> dict[str, int]:
        out = {}
        for skill, level in self.mapping(value, path).items():
            out[str(skill)] = self.whole(level, path + (skill,), minimum=0)
        return out


def load_queues(acd: Mapping[str, Any] | None, source: LocatedYaml | None = None) -> dict[str, QueueConfig]:
    """Validate `config.acd` (raw mapping) and return queue configs by name; raise AcdConfigError."""
    check = _Checker(source)
    acd = acd or {}
    root = ("acd",)
    check.mapping(acd, root)
    for key in acd:
        if key not in _TOP_KEYS:
            raise check.fail(root + (key,), f"unknown setting (known: {', '.join(sorted(_TOP_KEYS))})")
    raw_queues = check.mapping(acd.get("queues") or {}, root + ("queues",))
    queues = {str(name): _queue(check, str(name), raw, root + ("queues", name))
              for name, raw in raw_queues.items()}
    for name, queue in queues.items():
        for i, step in enumerate(queue.overflow):
            for other in step.add_queues:
                if other not in queues:
                    raise check.fail(root + ("queues", name, "overflow", i, "add_queues"),
                                     f"unknown queue {other!r} (known: {', '.join(sorted(queues))})")
    return queues


@dataclass(frozen=True)
class AcdSettings:
    """Engine-wide ACD settings next to the queues."""

    recordings_dir: str = ""  # empty: <engine.data_dir>/recordings
    reconcile_every: float = 30.0
    callback_gateway: str = ""  # FreeSWITCH gateway for agent-first callbacks; empty: callbacks go to the dialer
    agent_domain: str = ""  # user/<ext>@<domain> when set


def load_settings(acd: Mapping[str, Any] | None, source: LocatedYaml | None = None) -> AcdSettings:
    """The non-queue settings of `config.acd` (validated the same way as the queues)."""
    check = _Checker(source)
    acd = acd or {}
    root = ("acd",)
    kw: dict[str, Any] = {}
    for key in ("recordings_dir", "callback_gateway", "agent_domain"):
        if key in acd:
            if not isinstance(acd[key], str):
                raise check.fail(root + (key,), "expected text")
            kw[key] = acd[key]
    if "reconcile_every" in acd:
        kw["reconcile_every"] = check.number(acd["reconcile_every"], root + ("reconcile_every",), minimum=1)
    if "screen_pop_webhooks" in acd:
        raise check.fail(root + ("screen_pop_webhooks",), "removed: webhooks are configured in the `webhooks:` "
                         "section (subscribers with a url, secret_file and events; see docs/webhooks.md)")
    return AcdSettings(**kw)


def _queue(check: _Checker, name: str, raw: Any, path: tuple) -> QueueConfig:
    raw = check.mapping(raw if raw is not None else {}, path)
    for key in raw:
        if key not in _QUEUE_KEYS:
            raise check.fail(path + (key,), f"unknown queue setting (known: {', '.join(sorted(_QUEUE_KEYS))})")
    kw: dict[str, Any] = {"name": name}
    if "strategy" in raw:
        kw["strategy"] = check.choice(Strategy, raw["strategy"], path + ("strategy",))
    if "skills" in raw:
        kw["skills"] = check.skills(raw["skills"] or {}, path + ("skills",))
    if "priority_rules" in raw:
        kw["priority_rules"] = _priority_rules(check, raw["priority_rules"], path + ("priority_rules",))
    for key in ("aging_per_minute", "max_wait", "announce_every", "wrap_up_seconds"):
        if key in raw:
            kw[key] = check.number(raw[key], path + (key,))
    if "offer_timeout" in raw:
        kw["offer_timeout"] = check.number(raw["offer_timeout"], path + ("offer_timeout",), minimum=1)
    for key in ("max_length", "random_seed"):
        if key in raw:
            kw[key] = check.whole(raw[key], path + (key,))
    if "max_no_answer" in raw:
        kw["max_no_answer"] = check.whole(raw["max_no_answer"], path + ("max_no_answer",), minimum=1)
    if "max_wait_action" in raw:
        kw["max_wait_action"] = check.choice(ExitAction, raw["max_wait_action"], path + ("max_wait_action",))
    if "moh" in raw:
        if not isinstance(raw["moh"], str):
            raise check.fail(path + ("moh",), "expected a music-on-hold source (text)")
        kw["moh"] = raw["moh"]
    for key in ("abandon_callback", "preserve_scarce_agents"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise check.fail(path + (key,), "expected true or false")
            kw[key] = raw[key]
    if "sticky" in raw:
        kw["sticky"] = _sticky(check, raw["sticky"], path + ("sticky",))
    if "overflow" in raw:
        kw["overflow"] = _overflow(check, raw["overflow"], path + ("overflow",))
    if "exit_keys" in raw:
        keys = {}
        for key, action in check.mapping(raw["exit_keys"], path + ("exit_keys",)).items():
            digit = str(key)
            if len(digit) != 1 or digit not in "0123456789*#":
                raise check.fail(path + ("exit_keys", key), f"an exit key is one of 0-9 * #, got {key!r}")
            keys[digit] = check.choice(ExitAction, action, path + ("exit_keys", key))
        kw["exit_keys"] = keys
    if "record" in raw:
        kw["record"] = _record(check, raw["record"], path + ("record",))
    if "whisper" in raw:
        try:
            kw["whisper"] = Whisper.parse(raw["whisper"]).source
        except WhisperError as exc:
            raise check.fail(path + ("whisper",), str(exc)) from None
    return QueueConfig(**kw)


def _priority_rules(check: _Checker, raw: Any, path: tuple) -> tuple[PriorityRule, ...]:
    if not isinstance(raw, list):
        raise check.fail(path, "expected a list of rules like {segment: vip, priority: 10}")
    rules = []
    for i, item in enumerate(raw):
        item = check.mapping(item, path + (i,))
        unknown = set(item) - {"segment", "value_tier", "tags", "priority"}
        if unknown:
            raise check.fail(path + (i, sorted(unknown)[0]), "unknown rule key (known: priority, segment, tags, value_tier)")
        if "priority" not in item:
            raise check.fail(path + (i,), "a priority rule needs a priority")
        if not ({"segment", "value_tier", "tags"} & set(item)):
            raise check.fail(path + (i,), "a priority rule needs a condition: segment, value_tier or tags")
        rules.append(PriorityRule(
            priority=check.whole(item["priority"], path + (i, "priority")),
            segment=str(item["segment"]) if "segment" in item else None,
            value_tier=str(item["value_tier"]) if "value_tier" in item else None,
            tags=check.names(item["tags"], path + (i, "tags")) if "tags" in item else (),
        ))
    return tuple(rules)


def _sticky(check: _Checker, raw: Any, path: tuple) -> StickyPolicy | None:
    if raw is False or raw is None:
        return None
    if raw is True:
        return StickyPolicy()
    raw = check.mapping(raw, path)
    unknown = set(raw) - {"mode", "max_wait"}
    if unknown:
        raise check.fail(path + (sorted(unknown)[0],), "unknown sticky setting (known: max_wait, mode)")
    mode = raw.get("mode", "last")
    if mode not in ("last", "owner"):
        raise check.fail(path + ("mode",), f"must be one of last, owner, got {mode!r}")
    max_wait = check.number(raw.get("max_wait", 20), path + ("max_wait",))
    return StickyPolicy(mode=mode, max_wait=max_wait)


def _overflow(check: _Checker, raw: Any, path: tuple) -> tuple[OverflowStep, ...]:
    if not isinstance(raw, list):
        raise check.fail(path, "expected a list of steps like {after: 60, drop_skills: [mandarin]}")
    steps: list[OverflowStep] = []
    known = {"after", "drop_skills", "lower_proficiency", "add_queues", "action"}
    for i, item in enumerate(raw):
        item = check.mapping(item, path + (i,))
        unknown = set(item) - known
        if unknown:
            raise check.fail(path + (i, sorted(unknown)[0]), f"unknown overflow setting (known: {', '.join(sorted(known))})")
        if "after" not in item:
            raise check.fail(path + (i,), "an overflow step needs `after` (seconds of waiting)")
        after = check.number(item["after"], path + (i, "after"))
        if steps and after <= steps[-1].after:
            raise check.fail(path + (i, "after"), f"steps must be in increasing time order ({after:g} <= {steps[-1].after:g})")
        if steps and steps[-1].action is not None:
            raise check.fail(path + (i,), "no step can follow one with an action (the caller has left)")
        step = OverflowStep(
            after=after,
            drop_skills=check.names(item["drop_skills"], path + (i, "drop_skills")) if "drop_skills" in item else (),
            lower_proficiency=check.whole(item.get("lower_proficiency", 0), path + (i, "lower_proficiency")),
            add_queues=check.names(item["add_queues"], path + (i, "add_queues")) if "add_queues" in item else (),
            action=check.choice(ExitAction, item["action"], path + (i, "action")) if "action" in item else None,
        )
        if not (step.drop_skills or step.lower_proficiency or step.add_queues or step.action):
            raise check.fail(path + (i,), "an overflow step must do something: drop_skills, lower_proficiency, add_queues or action")
        steps.append(step)
    return tuple(steps)


def _record(check: _Checker, raw: Any, path: tuple) -> RecordingPolicy:
    if isinstance(raw, (str, bool)):
        raw = {"policy": ("always" if raw else "never") if isinstance(raw, bool) else raw}
    raw = check.mapping(raw, path)
    unknown = set(raw) - {"policy", "stereo", "path", "announce"}
    if unknown:
        raise check.fail(path + (sorted(unknown)[0],), "unknown record setting (known: announce, path, policy, stereo)")
    kw: dict[str, Any] = {}
    if "policy" in raw:
        kw["policy"] = check.choice(RecordPolicy, raw["policy"], path + ("policy",))
    if "stereo" in raw:
        if not isinstance(raw["stereo"], bool):
            raise check.fail(path + ("stereo",), "expected true or false")
        kw["stereo"] = raw["stereo"]
    if "path" in raw:
        template = raw["path"]
        if not isinstance(template, str) or "{call_id}" not in template:
            raise check.fail(path + ("path",), "a path template must be text containing {call_id}")
        try:
            template.format(date="d", queue="q", call_id="c", agent="a", caller="n", time="t")
        except (KeyError, IndexError, ValueError) as exc:
            raise check.fail(path + ("path",), f"bad placeholder {exc} (known: agent, call_id, caller, date, queue, time)") from None
        kw["path_template"] = template
    if "announce" in raw:
        kw["announce"] = str(raw["announce"])
    return RecordingPolicy(**kw)
