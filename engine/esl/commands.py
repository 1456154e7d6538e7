"""The one place where FreeSWITCH strings live: event and header names, apps, variables, API syntax, causes.

Everything that formats text FreeSWITCH will parse is here, so domain code never does. Builders validate
their inputs: a value that would break FreeSWITCH's own parsing (spaces in a UUID, a `}` in a variable
name, CR/LF anywhere) raises `ValueError` instead of reaching the switch.
"""
from __future__ import annotations

import re
import uuid as _uuid
from typing import Iterable, Mapping

from engine.esl.causes import HangupCause  # noqa: F401  (re-exported: commands is the import point)

# --- event names (ESL.md §4.1) -------------------------------------------------------------------------
EV_CUSTOM = "CUSTOM"
EV_CHANNEL_CREATE = "CHANNEL_CREATE"
EV_CHANNEL_DESTROY = "CHANNEL_DESTROY"
EV_CHANNEL_STATE = "CHANNEL_STATE"
EV_CHANNEL_CALLSTATE = "CHANNEL_CALLSTATE"
EV_CHANNEL_ANSWER = "CHANNEL_ANSWER"
EV_CHANNEL_HANGUP = "CHANNEL_HANGUP"
EV_CHANNEL_HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
EV_CHANNEL_EXECUTE = "CHANNEL_EXECUTE"
EV_CHANNEL_EXECUTE_COMPLETE = "CHANNEL_EXECUTE_COMPLETE"
EV_CHANNEL_BRIDGE = "CHANNEL_BRIDGE"
EV_CHANNEL_UNBRIDGE = "CHANNEL_UNBRIDGE"
EV_CHANNEL_PROGRESS = "CHANNEL_PROGRESS"
EV_CHANNEL_PROGRESS_MEDIA = "CHANNEL_PROGRESS_MEDIA"
EV_CHANNEL_OUTGOING = "CHANNEL_OUTGOING"
EV_CHANNEL_PARK = "CHANNEL_PARK"
EV_CHANNEL_UNPARK = "CHANNEL_UNPARK"
EV_CHANNEL_ORIGINATE = "CHANNEL_ORIGINATE"
EV_CHANNEL_UUID = "CHANNEL_UUID"
EV_CHANNEL_HOLD = "CHANNEL_HOLD"
EV_CHANNEL_UNHOLD = "CHANNEL_UNHOLD"
EV_CHANNEL_DATA = "CHANNEL_DATA"
EV_DTMF = "DTMF"
EV_BACKGROUND_JOB = "BACKGROUND_JOB"
EV_HEARTBEAT = "HEARTBEAT"
EV_PLAYBACK_START = "PLAYBACK_START"
EV_PLAYBACK_STOP = "PLAYBACK_STOP"
EV_RECORD_START = "RECORD_START"
EV_RECORD_STOP = "RECORD_STOP"
EV_API = "API"
EV_ALL = "ALL"

SUBCLASS_SOFIA_REGISTER = "sofia::register"
SUBCLASS_SOFIA_UNREGISTER = "sofia::unregister"
SUBCLASS_SOFIA_EXPIRE = "sofia::expire"

SUBCLASS_AGENT_CONTROL = "jinqiao::agent"  # the engine's own agent-control event (CLI, phone feature codes)

# --- header names ----------------------------------------------------------------------------------------
H_EVENT_NAME = "Event-Name"
H_UNIQUE_ID = "Unique-ID"
H_JOB_UUID = "Job-UUID"
H_APPLICATION = "Application"
H_APPLICATION_UUID = "Application-UUID"
H_APPLICATION_RESPONSE = "Application-Response"
H_HANGUP_CAUSE = "Hangup-Cause"
H_ANSWER_STATE = "Answer-State"
H_CHANNEL_STATE = "Channel-State"
H_CALLER_NUMBER = "Caller-Caller-ID-Number"
H_CALLER_NAME = "Caller-Caller-ID-Name"
H_DESTINATION_NUMBER = "Caller-Destination-Number"
H_CHANNEL_NAME = "Channel-Name"
H_DTMF_DIGIT = "DTMF-Digit"
H_BRIDGE_A = "Bridge-A-Unique-ID"
H_BRIDGE_B = "Bridge-B-Unique-ID"
H_OTHER_LEG_UUID = "Other-Leg-Unique-ID"
H_EVENT_DATE_TIMESTAMP = "Event-Date-Timestamp"
H_SUBCLASS = "Event-Subclass"
H_RECORD_FILE_PATH = "Record-File-Path"
H_REG_USER = "from-user"
H_REG_USERNAME = "username"
H_REG_CONTACT = "contact"
H_AGENT_ID = "Agent-ID"  # headers of the jinqiao::agent control event
H_AGENT_ACTION = "Agent-Action"
H_AGENT_REASON = "Agent-Reason"
H_AGENT_QUEUES = "Agent-Queues"

# --- SIP headers the engine puts on agent legs (a plain softphone can show who is calling) -------------
SIP_HEADER_CUSTOMER = "X-Jinqiao-Customer"
SIP_HEADER_CUSTOMER_NAME = "X-Jinqiao-Customer-Name"
SIP_HEADER_CALL_ID = "X-Jinqiao-Call-Id"
SIP_HEADER_QUEUE = "X-Jinqiao-Queue"
SIP_HEADER_SEGMENT = "X-Jinqiao-Segment"

# --- channel variables -----------------------------------------------------------------------------------
VAR_CALL_ID = "jq_call_id"  # set by the engine on every leg it creates or controls
VAR_QUEUE = "jq_queue"
VAR_CUSTOMER_ID = "jq_customer_id"
VAR_ORIGINATION_UUID = "origination_uuid"
VAR_ORIGINATION_CID_NUMBER = "origination_caller_id_number"
VAR_ORIGINATION_CID_NAME = "origination_caller_id_name"
VAR_ORIGINATE_TIMEOUT = "originate_timeout"
VAR_IGNORE_EARLY_MEDIA = "ignore_early_media"
VAR_CONTINUE_ON_FAIL = "continue_on_fail"
VAR_HANGUP_AFTER_BRIDGE = "hangup_after_bridge"
VAR_PARK_AFTER_BRIDGE = "park_after_bridge"
VAR_PLAYBACK_TERMINATORS = "playback_terminators"
VAR_PLAYBACK_TERMINATOR_USED = "playback_terminator_used"
VAR_READ_RESULT = "read_result"
VAR_RECORD_SECONDS = "record_seconds"
VAR_RECORD_MS = "record_ms"
VAR_ORIGINATE_DISPOSITION = "originate_disposition"
VAR_DIALSTATUS = "DIALSTATUS"
VAR_HANGUP_CAUSE = "hangup_cause"
VAR_SIP_TERM_STATUS = "sip_term_status"  # final SIP status of the dialog (200 after a BYE, 486 busy...)
VAR_SIP_INVITE_FAILURE_STATUS = "sip_invite_failure_status"
VAR_PROTO_HANGUP_CAUSE = "proto_specific_hangup_cause"  # "sip:200"
VAR_SIP_HANGUP_DISPOSITION = "sip_hangup_disposition"  # recv_bye, send_bye, recv_cancel, recv_refuse...
VAR_TTS_ENGINE = "tts_engine"
VAR_TTS_VOICE = "tts_voice"
VAR_SIP_HEADER_PREFIX = "sip_h_"
VAR_EFFECTIVE_CID_NAME = "effective_caller_id_name"
VAR_EFFECTIVE_CID_NUMBER = "effective_caller_id_number"
VAR_RECORD_STEREO = "RECORD_STEREO"
# read by eavesdrop on the listening channel (switch_ivr_eavesdrop_session): mux the listener's audio into
# the target's read (aleg: the target hears it) / write (bleg: the target's peer hears it); DTMF mode switching.
VAR_EAVESDROP_WHISPER_ALEG = "eavesdrop_whisper_aleg"
VAR_EAVESDROP_WHISPER_BLEG = "eavesdrop_whisper_bleg"
VAR_EAVESDROP_ENABLE_DTMF = "eavesdrop_enable_dtmf"

SAY_PREFIX = "say:"  # playback of TTS text with the channel's tts_engine/tts_voice

# --- applications ----------------------------------------------------------------------------------------
APP_ANSWER = "answer"
APP_PRE_ANSWER = "pre_answer"
APP_PLAYBACK = "playback"
APP_SPEAK = "speak"
APP_PLAY_AND_GET_DIGITS = "play_and_get_digits"
APP_READ = "read"
APP_RECORD = "record"
APP_RECORD_SESSION = "record_session"
APP_STOP_RECORD_SESSION = "stop_record_session"
APP_BRIDGE = "bridge"
APP_PARK = "park"
APP_HANGUP = "hangup"
APP_SET = "set"
APP_EXPORT = "export"
APP_UNSET = "unset"
APP_SLEEP = "sleep"
APP_TRANSFER = "transfer"
APP_SOCKET = "socket"
APP_EAVESDROP = "eavesdrop"

# --- call-commands for sendmsg ----------------------------------------------------------------------------
CALL_COMMAND_EXECUTE = "execute"
CALL_COMMAND_HANGUP = "hangup"

# --- sounds ------------------------------------------------------------------------------------------------
MUSIC_ON_HOLD = "local_stream://moh"
TONE_RINGBACK = "tone_stream://%(2000,4000,440,480)"

# --- API reply texts -----------------------------------------------------------------------------------------
REPLY_OK = "+OK"
REPLY_ERR = "-ERR"
UNDEF = "_undef_"


# --- validation helpers --------------------------------------------------------------------------------------
_UUID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_VAR_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_EXT_RE = re.compile(r"^[A-Za-z0-9_.+*#@-]+$")


def check_uuid(value: str) -> str:
    if not _UUID_RE.match(value or ""):
        raise ValueError(f"not a channel UUID: {value!r}")
    return value


def check_var_name(name: str) -> str:
    if not _VAR_NAME_RE.match(name or ""):
        raise ValueError(f"not a channel variable name: {name!r}")
    return name


def _no_newlines(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} must not contain CR or LF")
    return value


def new_uuid() -> str:
    """A fresh UUID for origination_uuid, Event-UUID or Job-UUID."""
    return str(_uuid.uuid4())


# --- dial strings and originate --------------------------------------------------------------------------------
def no_expansion(text: str) -> str:
    """Escape `$` so FreeSWITCH does not expand `${...}` (which can call APIs) in app data we pass on."""
    return text.replace("$", "\\$")


def escape_dial_value(value: object) -> str:
    """Make a value safe inside `{a=b,c=d}` / `[a=b]`.

    FreeSWITCH finds the end of the block without honouring backslashes and turns `\\n`-style sequences into
    control characters, so brackets and backslashes cannot be escaped: they are replaced by look-alikes
    (`(` `)` `/`). Commas become `\\,`, `$` is escaped against expansion, and a value with spaces or
    quotes is single-quoted.
    """
    text = _no_newlines(str(value), "dial-string variable")
    text = text.translate(_DIAL_UNSAFE).replace(",", "\\,")
    text = no_expansion(text)
    if " " in text or "'" in text:
        text = "'" + text.replace("'", "") + "'"
    return text


_DIAL_UNSAFE = str.maketrans({"{": "(", "}": ")", "[": "(", "]": ")", "<": "(", ">": ")", "\\": "/"})


def variables_block(variables: Mapping[str, object], brackets: str = "{}") -> str:
    """`{a=b,c=d}` (or `[a=b]` with brackets="[]") with names checked and values escaped."""
    if not variables:
        return ""
    inner = ",".join(f"{check_var_name(k)}={escape_dial_value(v)}" for k, v in variables.items())
    return f"{brackets[0]}{inner}{brackets[1]}"


def user_endpoint(extension: str, domain: str | None = None) -> str:
    """`user/<ext>[@domain]` for a registered SIP user."""
    if not _EXT_RE.match(extension or ""):
        raise ValueError(f"not an extension: {extension!r}")
    return f"user/{extension}@{domain}" if domain else f"user/{extension}"


def sofia_gateway_endpoint(gateway: str, number: str) -> str:
    """`sofia/gateway/<gw>/<number>` for a PSTN destination through a configured gateway."""
    if not _EXT_RE.match(number or "") or not _VAR_NAME_RE.match(gateway or ""):
        raise ValueError(f"bad gateway destination: {gateway!r} {number!r}")
    return f"sofia/gateway/{gateway}/{number}"


def sip_uri_endpoint(uri: str, profile: str = "internal") -> str:
    """`sofia/<profile>/<uri>` for a SIP URI transfer target."""
    if not re.match(r"^(sips?:)?[A-Za-z0-9_.+\-]+@[A-Za-z0-9_.\-]+(:\d+)?$", uri or ""):
        raise ValueError(f"not a SIP URI: {uri!r}")
    return f"sofia/{profile}/{uri}"


def dial_string(target: str, variables: Mapping[str, object] | None = None,
                leg_variables: Mapping[str, object] | None = None) -> str:
    """`{global vars}[leg vars]target`."""
    _no_newlines(target, "dial target")
    if " " in target:
        raise ValueError(f"dial target must not contain spaces: {target!r}")
    return variables_block(variables or {}) + variables_block(leg_variables or {}, "[]") + target


def originate(target: str, *, app: str = APP_PARK, app_arg: str = "", variables: Mapping[str, object] | None = None,
              uuid: str | None = None, timeout: int | None = None, extension: str | None = None,
              dialplan: str = "XML", context: str = "default") -> str:
    """`originate {vars,origination_uuid=..}target &app(arg)` (or an extension in dialplan/context)."""
    merged: dict[str, object] = dict(variables or {})
    if uuid:
        merged[VAR_ORIGINATION_UUID] = check_uuid(uuid)
    if timeout is not None:
        merged[VAR_ORIGINATE_TIMEOUT] = int(timeout)
    dial = dial_string(target, merged)
    if extension is not None:
        if not _EXT_RE.match(extension):
            raise ValueError(f"not an extension: {extension!r}")
        return f"originate {dial} {extension} {dialplan} {context}"
    if ")" in app_arg or "\n" in app_arg or " " in app_arg:
        raise ValueError("an &app() argument cannot contain ')', spaces or a newline")
    return f"originate {dial} &{app}({app_arg})"


# --- channel API commands ---------------------------------------------------------------------------------
def uuid_bridge(uuid: str, other: str) -> str:
    return f"uuid_bridge {check_uuid(uuid)} {check_uuid(other)}"


def uuid_kill(uuid: str, cause: HangupCause | str = HangupCause.NORMAL_CLEARING) -> str:
    cause_name = cause.name if isinstance(cause, HangupCause) else HangupCause.parse(cause).name
    return f"uuid_kill {check_uuid(uuid)} {cause_name}"


def uuid_break(uuid: str, all: bool = False) -> str:  # noqa: A002 - FreeSWITCH's word
    return f"uuid_break {check_uuid(uuid)}" + (" all" if all else "")


def uuid_transfer(uuid: str, extension: str, dialplan: str = "XML", context: str = "default", leg: str = "") -> str:
    if not _EXT_RE.match(extension):
        raise ValueError(f"not an extension: {extension!r}")
    flag = {"": "", "bleg": "-bleg ", "both": "-both "}[leg]
    return f"uuid_transfer {check_uuid(uuid)} {flag}{extension} {dialplan} {context}"


def uuid_broadcast(uuid: str, path: str, leg: str = "aleg") -> str:
    _no_newlines(path, "broadcast path")
    if " " in path or not path:
        raise ValueError(f"broadcast path must be one word: {path!r}")
    if leg not in ("aleg", "bleg", "both", "holdb"):
        raise ValueError(f"bad broadcast leg {leg!r}")
    return f"uuid_broadcast {check_uuid(uuid)} {path} {leg}"


def uuid_record(uuid: str, action: str, path: str, limit_seconds: int | None = None) -> str:
    if action not in ("start", "stop", "pause", "resume", "mask", "unmask"):
        raise ValueError(f"bad record action {action!r}")
    _no_newlines(path, "record path")
    if " " in path:
        raise ValueError("record path must not contain spaces")
    return f"uuid_record {check_uuid(uuid)} {action} {path}" + (f" {int(limit_seconds)}" if limit_seconds else "")


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    return f"uuid_setvar {check_uuid(uuid)} {check_var_name(name)} {_no_newlines(str(value), 'variable value')}"


def uuid_getvar(uuid: str, name: str) -> str:
    return f"uuid_getvar {check_uuid(uuid)} {check_var_name(name)}"


def uuid_exists(uuid: str) -> str:
    return f"uuid_exists {check_uuid(uuid)}"


def uuid_dump(uuid: str) -> str:
    return f"uuid_dump {check_uuid(uuid)} json"


def uuid_answer(uuid: str) -> str:
    return f"uuid_answer {check_uuid(uuid)}"


def uuid_hold(uuid: str, on: bool = True) -> str:
    return f"uuid_hold {check_uuid(uuid)}" if on else f"uuid_hold off {check_uuid(uuid)}"


def show_channels_json() -> str:
    return "show channels as json"


def show_calls_json() -> str:
    return "show calls as json"


def status() -> str:
    return "status"


# --- inbound session commands -----------------------------------------------------------------------------------
def auth(password: str) -> str:
    return "auth " + _no_newlines(password, "password")


def subscribe(event_format: str, names: Iterable[str]) -> str:
    names = list(names)
    plain = [n for n in names if "::" not in n]
    custom = [n for n in names if "::" in n]
    words = plain + (["CUSTOM", *custom] if custom else [])
    if event_format not in ("plain", "json", "xml"):
        raise ValueError(f"bad event format {event_format!r}")
    return f"event {event_format} " + " ".join(words)


def sendevent(name: str) -> str:
    if not re.match(r"^[A-Z_]+$", name):
        raise ValueError(f"not an event name: {name!r}")
    return f"sendevent {name}"


def filter_add(header: str, value: str) -> str:
    return f"filter {_no_newlines(header, 'filter header')} {_no_newlines(value, 'filter value')}"


def execute_headers(app: str, event_uuid: str, *, event_lock: bool = True, loops: int = 1) -> dict[str, str]:
    """Headers for `sendmsg` call-command execute (the app argument travels as the text/plain body)."""
    headers = {"execute-app-name": app, "Event-UUID": event_uuid}
    if event_lock:
        headers["event-lock"] = "true"
    if loops != 1:
        headers["loops"] = str(loops)
    return headers


def hangup_headers(cause: HangupCause | str = HangupCause.NORMAL_CLEARING) -> dict[str, str]:
    name = cause.name if isinstance(cause, HangupCause) else HangupCause.parse(cause).name
    return {"hangup-cause": name}


# --- application arguments ----------------------------------------------------------------------------------------
def play_and_get_digits_arg(*, min_digits: int, max_digits: int, tries: int, timeout_ms: int, terminators: str,
                            prompt: str, invalid_prompt: str, variable: str, regexp: str,
                            digit_timeout_ms: int | None = None) -> str:
    """The argument of play_and_get_digits (ESL.md §5.2); file names must not contain spaces."""
    if not regexp or " " in regexp or "\n" in regexp:
        raise ValueError(f"regexp must be one non-empty word: {regexp!r}")
    prompt, invalid_prompt = _one_argument(prompt, "prompt"), _one_argument(invalid_prompt, "invalid prompt")
    for escape in ("\\s", "\\t", "\\n"):  # FreeSWITCH's argument splitter turns these into whitespace
        if escape in regexp:
            raise ValueError(f"regexp must not use {escape} (write [ ] or [\\t] instead): {regexp!r}")
    check_var_name(variable)
    terminators = terminators or "none"
    arg = (f"{int(min_digits)} {int(max_digits)} {int(tries)} {int(timeout_ms)} {terminators} {prompt} "
           f"{invalid_prompt} {variable} {regexp}")
    if digit_timeout_ms is not None:
        arg += f" {int(digit_timeout_ms)}"
    return arg


def _one_argument(text: str, what: str) -> str:
    """A file or `say:` text as one field of a space-split argument: single-quoted when it has spaces
    (switch_separate_string groups '…' and drops the quotes); quotes and backslashes cannot be carried."""
    if not text or any(c in text for c in "'\\\n\r"):
        raise ValueError(f"{what} must be non-empty, without quotes, backslashes or line breaks: {text!r}")
    return f"'{text}'" if " " in text else text


def record_arg(path: str, max_seconds: int, silence_threshold: int = 200, silence_seconds: int = 3) -> str:
    if " " in path or "\n" in path:
        raise ValueError(f"record path must not contain spaces: {path!r}")
    return f"{path} {int(max_seconds)} {int(silence_threshold)} {int(silence_seconds)}"


def set_arg(name: str, value: str) -> str:
    """`name=value` for the set app. FreeSWITCH expands `${...}` twice on this path (app data, then
    `set` itself), so no escape survives: a value with `$` is refused rather than ever evaluated."""
    value = _no_newlines(str(value), "variable value")
    if "$" in value:
        raise ValueError(f"a set value must not contain '$' (FreeSWITCH would expand it): {value[:40]!r}")
    return f"{check_var_name(name)}={value}"


def say_path(text: str) -> str:
    """A playback path that speaks `text` with the channel's tts_engine/tts_voice: one line, `$` escaped so
    caller data inside it is never expanded."""
    return SAY_PREFIX + no_expansion(" ".join(text.split()))


def speak_arg(engine: str, voice: str, text: str) -> str:
    """`engine|voice|text` for the speak app; `$` escaped so caller-supplied data is never expanded."""
    return f"{engine}|{voice}|{no_expansion(_no_newlines(text, 'speak text'))}"


def transfer_arg(extension: str, dialplan: str = "XML", context: str = "default") -> str:
    if not _EXT_RE.match(extension):
        raise ValueError(f"not an extension: {extension!r}")
    return f"{extension} {dialplan} {context}"


def silence(ms: int) -> str:
    return f"silence_stream://{int(ms)}"


def socket_arg(host: str, port: int) -> str:
    return f"{host}:{int(port)} async full"
