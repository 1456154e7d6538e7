"""Nodes that talk to or listen to the caller: play, say, menu, collect, survey, record, voicemail."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gevent

from engine.esl import commands
from engine.ivr.channel import CallHungUp
from engine.ivr.fields import LANGUAGES, Field, FieldParser, Kind
from engine.ivr.nodes.base import Node, node_type
from engine.ivr.digits import clean_digits
from engine.ivr.templates import TemplateRenderError
from engine.yamlsrc import PathKey

if TYPE_CHECKING:
    from engine.ivr.session import CallSession

log = logging.getLogger(__name__)

NEXT = Field(Kind.NODE, "The node to go to next.", required=True)
ON_FAILURE = Field(Kind.NODE, "The node to go to when the caller gives no valid input after all retries.",
                   required=True)
RETRIES = Field(Kind.INT, "Extra attempts after the first one.", default=2, minimum=0, maximum=9)
TIMEOUT_MS = Field(Kind.INT, "How long to wait for the first key, in ms.", default=5000, minimum=500,
                   maximum=60000)
LANGUAGE = Field(Kind.CHOICE, "Speak in this language instead of the call's.", choices=LANGUAGES)
ANY_KEY = "[0-9*#]+"  # accept any key press; the node decides what is valid
SHORT_SILENCE = commands.silence(100)


@node_type
class PlayNode(Node):
    TYPE = "play"
    DOC = "Play an audio file or speak TTS text (a template), then go on."
    FIELDS = {
        "file": Field(Kind.AUDIO, "Audio file (relative to the flow file), or {zh: ..., en: ...}."),
        "tts": Field(Kind.TEXT, "Text to speak (a template), or {zh: ..., en: ...}."),
        "language": LANGUAGE,
        "next": NEXT,
    }

    @classmethod
    def check(cls, parser: FieldParser, values: dict[str, Any], data: dict[str, Any], path: PathKey) -> None:
        if ("file" in data) == ("tts" in data):
            parser.error(path, "a play node needs exactly one of 'file' or 'tts'")

    def run(self, session: "CallSession") -> str | None:
        from engine.ivr.fields import Prompt

        session.play(Prompt(tts=self.tts, files=self.file, language=self.language), self.fallback)
        return self.next


@node_type
class SayNode(Node):
    TYPE = "say"
    DOC = "Speak a number, an amount of money, a date or a digit string in the call's language."
    FIELDS = {
        "kind": Field(Kind.CHOICE, "What the value is.", required=True,
                      choices=("number", "money", "date", "digits")),
        "value": Field(Kind.TEMPLATE, "The value (a template, e.g. '{{ vars.balance }}').", required=True),
        "currency": Field(Kind.CHOICE, "Currency of a money value.", default="CNY", choices=("CNY", "USD", "EUR")),
        "before": Field(Kind.TEXT, "Text spoken before the value."),
        "after": Field(Kind.TEXT, "Text spoken after the value."),
        "language": LANGUAGE,
        "next": NEXT,
    }

    def run(self, session: "CallSession") -> str | None:
        from tts import spoken

        language = self.language or session.language
        try:
            raw = session.render(self.value).strip()
            if not raw:
                raise TemplateRenderError("empty value")
            if self.kind == "money":
                words = spoken.money(raw, self.currency, language=language)
            else:
                words = getattr(spoken, self.kind)(raw, language=language)
            before = session.render(self.before.pick(language)) if self.before else ""
            after = session.render(self.after.pick(language)) if self.after else ""
        except (TemplateRenderError, ValueError, TypeError, ArithmeticError) as exc:
            log.warning("[%s] %s: cannot say %s (%s); playing fallback", session.uuid, self.id, self.kind, exc)
            session.channel.play(session.prompt_path(None, self.fallback))
            return self.next
        session.channel.play(session.speech_or_fallback(f"{before}{words}{after}", language, self.fallback))
        return self.next


def collect_keys(session: "CallSession", prompt_path: str, *, min_digits: int, max_digits: int, timeout_ms: int,
                 terminator: str = "none", digit_timeout_ms: int | None = None) -> str:
    """Play a prompt and collect keys in one play_and_get_digits; the raw keys, "" when none came.

    A prompt with spaces (FreeSWITCH speech, `say:` text) travels as one quoted field, so the caller
    barges in on it as on a file. One that cannot be carried at all (quotes or backslashes in it) is
    played with any key interrupting it (that key is the first of the input), then the rest is collected
    after a short silence.
    """
    channel = session.channel
    if any(c in "'\\\n\r\t" for c in prompt_path):
        first = barge_in_key(channel, prompt_path)
        if first and (max_digits <= 1 or first == terminator):
            return first
        if first:
            min_digits, max_digits = 1, max_digits - 1
            timeout_ms = digit_timeout_ms or timeout_ms
        rest = channel.collect(prompt=SHORT_SILENCE, min_digits=min_digits, max_digits=max_digits, tries=1,
                               timeout_ms=timeout_ms, terminators=terminator, regexp=ANY_KEY,
                               digit_timeout_ms=digit_timeout_ms)
        return first + rest
    return channel.collect(prompt=prompt_path, min_digits=min_digits, max_digits=max_digits, tries=1,
                           timeout_ms=timeout_ms, terminators=terminator, regexp=ANY_KEY,
                           digit_timeout_ms=digit_timeout_ms)


def barge_in_key(channel: Any, prompt_path: str) -> str:
    """Play a prompt that any key interrupts; the key, or "".

    FreeSWITCH keeps `playback_terminator_used` from the last prompt a key ended (and a recording a key
    stopped), so it is cleared first unless this call's channel is known to have it empty.
    """
    used = commands.VAR_PLAYBACK_TERMINATOR_USED
    if channel.variables.get(used) != "":
        channel.set_variable(used, "")
    key = clean_digits(channel.play(prompt_path, terminators="any"), 1)
    if key:
        channel.variables.pop(used, None)
    return key


def _ask_key(session: "CallSession", prompt_path: str, timeout_ms: int) -> str:
    return clean_digits(collect_keys(session, prompt_path, min_digits=1, max_digits=1, timeout_ms=timeout_ms), 1)


@node_type
class MenuNode(Node):
    TYPE = "menu"
    DOC = "Play a prompt and branch on one key; invalid or no input replays with retries."
    TAKES_INPUT = True
    FIELDS = {
        "prompt": Field(Kind.PROMPT, "The menu prompt.", required=True),
        "options": Field(Kind.NODE_MAP, "Key (0-9, '*', '#') -> node id.", required=True),
        "invalid_prompt": Field(Kind.PROMPT, "Played after a key that is not an option."),
        "timeout_prompt": Field(Kind.PROMPT, "Played when no key was pressed."),
        "retries": RETRIES,
        "timeout_ms": TIMEOUT_MS,
        "on_failure": ON_FAILURE,
    }

    def run(self, session: "CallSession") -> str | None:
        prompt = session.prompt_path(self.prompt, self.fallback)
        for attempt in range(self.retries + 1):
            key = _ask_key(session, prompt, self.timeout_ms)
            if key in self.options:
                session.note_digits(key, False)
                return self.options[key]
            if key:
                session.note_digits(key, False)
            log.debug("[%s] %s: %s (attempt %d)", session.uuid, self.id, "invalid key" if key else "timeout",
                      attempt + 1)
            session.play(self.invalid_prompt if key else self.timeout_prompt)
        return self.on_failure


@node_type
class CollectNode(Node):
    TYPE = "collect"
    DOC = "Collect a digit string into a variable (validated by length and pattern), with retries."
    TAKES_INPUT = True
    FIELDS = {
        "prompt": Field(Kind.PROMPT, "What to ask.", required=True),
        "into": Field(Kind.IDENT, "Variable that receives the digits (vars.<into>).", required=True),
        "min_digits": Field(Kind.INT, "Fewest digits accepted.", default=1, minimum=1, maximum=64),
        "max_digits": Field(Kind.INT, "Most digits accepted.", required=True, minimum=1, maximum=64),
        "terminator": Field(Kind.CHOICE, "Key that ends the input early.", default="#",
                            choices=("#", "*", "none")),
        "pattern": Field(Kind.REGEX, "Regular expression the whole input must match."),
        "timeout_ms": TIMEOUT_MS,
        "digit_timeout_ms": Field(Kind.INT, "Longest pause between digits, in ms.", minimum=500, maximum=60000),
        "retries": RETRIES,
        "mask": Field(Kind.BOOL, "Mask the digits in the stored IVR path (card numbers, PINs).", default=False),
        "invalid_prompt": Field(Kind.PROMPT, "Played after invalid or missing input, before retrying."),
        "next": NEXT,
        "on_failure": ON_FAILURE,
    }

    @classmethod
    def check(cls, parser: FieldParser, values: dict[str, Any], data: dict[str, Any], path: PathKey) -> None:
        low, high = values.get("min_digits"), values.get("max_digits")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            parser.error(path + ("min_digits",), f"min_digits ({low}) is more than max_digits ({high})")

    def valid(self, digits: str) -> bool:
        if not self.min_digits <= len(digits) <= self.max_digits:
            return False
        return self.pattern is None or self.pattern.fullmatch(digits) is not None

    def run(self, session: "CallSession") -> str | None:
        prompt = session.prompt_path(self.prompt, self.fallback)
        for attempt in range(self.retries + 1):
            raw = collect_keys(session, prompt, min_digits=self.min_digits, max_digits=self.max_digits,
                               timeout_ms=self.timeout_ms, terminator=self.terminator,
                               digit_timeout_ms=self.digit_timeout_ms)
            digits = clean_digits(raw, self.max_digits + 1)
            if digits.endswith(self.terminator):
                digits = digits[:-1]
            if digits:
                session.note_digits(digits, self.mask)
            if self.valid(digits):
                session.vars[self.into] = digits
                return self.next
            log.debug("[%s] %s: invalid input (attempt %d)", session.uuid, self.id, attempt + 1)
            session.play(self.invalid_prompt)
        return self.on_failure


@node_type
class SurveyNode(Node):
    TYPE = "survey"
    DOC = "Ask for a score from 1 to 5 and store it on the interaction."
    TAKES_INPUT = True
    FIELDS = {
        "prompt": Field(Kind.PROMPT, "The question.", required=True),
        "question": Field(Kind.STR, "Question id stored with the score (default: the node id)."),
        "invalid_prompt": Field(Kind.PROMPT, "Played after a key that is not 1-5."),
        "thanks": Field(Kind.PROMPT, "Played after a valid score."),
        "retries": Field(Kind.INT, "Extra attempts after the first one.", default=1, minimum=0, maximum=9),
        "timeout_ms": TIMEOUT_MS,
        "next": NEXT,
    }

    def run(self, session: "CallSession") -> str | None:
        prompt = session.prompt_path(self.prompt, self.fallback)
        question = self.question or self.id
        for _ in range(self.retries + 1):
            key = _ask_key(session, prompt, self.timeout_ms)
            if key in ("1", "2", "3", "4", "5"):
                score = int(key)
                session.note_digits(key, False)
                session.record.surveys.append((question, score))
                try:
                    with gevent.Timeout(session.services.store_timeout, TimeoutError("the store did not answer")):
                        session.services.interactions.survey_answered(session.uuid, question, score)
                except Exception:
                    log.exception("[%s] %s: storing the survey score failed", session.uuid, self.id)
                session.play(self.thanks)
                return self.next
            session.play(self.invalid_prompt)
        return self.next


@node_type
class RecordNode(Node):
    TYPE = "record"
    DOC = "Record the caller (after an optional prompt) into the recordings directory."
    TAKES_INPUT = True
    OUTCOME = ""
    FIELDS = {
        "prompt": Field(Kind.PROMPT, "Played before recording starts."),
        "max_seconds": Field(Kind.INT, "Longest recording.", default=120, minimum=1, maximum=3600),
        "silence_seconds": Field(Kind.INT, "Stop after this much silence.", default=3, minimum=1, maximum=60),
        "terminator": Field(Kind.CHOICE, "Key that stops recording.", default="#", choices=("#", "*", "none")),
        "into": Field(Kind.IDENT, "Variable that receives the recording's path."),
        "next": NEXT,
        "on_failure": Field(Kind.NODE, "Where to go when nothing was recorded (default: next)."),
    }

    def run(self, session: "CallSession") -> str | None:
        session.play(self.prompt, self.fallback)
        folder = session.services.recordings_dir / self.TYPE
        folder.mkdir(parents=True, exist_ok=True)
        safe_uuid = "".join(c for c in session.uuid if c.isalnum() or c == "-") or "call"
        path = folder / f"{safe_uuid}-{self.id}.wav"
        seconds = session.channel.record(str(path), max_seconds=self.max_seconds,
                                         silence_seconds=self.silence_seconds, terminators=self.terminator)
        session.channel.variables.pop(commands.VAR_PLAYBACK_TERMINATOR_USED, None)  # a key may have stopped it
        if seconds:
            session.record.recordings.append(str(path))
            if self.into:
                session.vars[self.into] = str(path)
            if self.OUTCOME:
                session.record.outcome = self.OUTCOME
        if getattr(session.channel, "hung_up", False):  # hanging up ends a message: kept, and the flow ends here
            raise CallHungUp(f"call {session.uuid} hung up while recording")
        return self.next if seconds else self.on_failure or self.next


@node_type
class VoicemailNode(RecordNode):
    TYPE = "voicemail"
    DOC = "Leave a voicemail: a recording that marks the call's outcome as `voicemail`."
    OUTCOME = "voicemail"
