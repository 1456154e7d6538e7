"""Allow-lists for every value the engine puts into a FreeSWITCH command.

Text from callers, customer records and the network never reaches FreeSWITCH syntax as it is: names are
checked against allow-lists (refused with `ValueError`), dial-string values are rebuilt from one
(`dial_value`), and no control byte gets through (`check_text`). The builders in `commands` use these;
`tests/esl/test_command_structure.py` checks them against a model of FreeSWITCH's own splitters.
"""
from __future__ import annotations

import re
import unicodedata

# --- names and words --------------------------------------------------------------------------------------
_UUID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")
_VAR_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}\Z")
_EXT_RE = re.compile(r"^[A-Za-z0-9_.+*#@-]{1,64}\Z")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}\Z")  # dialplan, context, app, gateway, profile names
_APP_RE = re.compile(r"^[a-z0-9_]{1,64}\Z")
# A dial target (`user/1001@dom`, `sofia/gateway/gw/138…`, `sofia/internal/sip:a@b:5060;transport=tcp`):
# no blank, quote, backslash, bracket, `,` `|` `$` or control byte, and never the enterprise delimiter `:_:`.
_TARGET_RE = re.compile(r"^[A-Za-z0-9_.+*#@/:;=%-]{1,256}\Z")
ENTERPRISE_DELIM = ":_:"
# One word of an API command or app argument (file paths): what FreeSWITCH's blank splitter and variable
# expansion leave alone.
_WORD_FORBIDDEN = frozenset("'\"\\$")
MAX_DIAL_VALUE = 256


def _control(value: str) -> bool:
    return any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in value)


def check_text(value: object, what: str) -> str:
    """Any text that goes into a FreeSWITCH command: refused when it holds NUL, CR, LF, tab or any control byte."""
    text = str(value)
    if _control(text):
        raise ValueError(f"{what} must not contain control characters (NUL, CR, LF, tab, ...): {text[:40]!r}")
    return text


def check_word(value: object, what: str) -> str:
    """One blank-separated field of an API command or app argument (e.g. a file path): non-empty, no blank,
    quote, backslash, `$` or control character, so FreeSWITCH's splitter and expander see exactly this word."""
    text = check_text(value, what)
    if not text or " " in text or any(c in _WORD_FORBIDDEN for c in text) or "^^" in text:
        raise ValueError(f"{what} must be one word without spaces, quotes, backslashes, '^^' or '$': {text[:40]!r}")
    return text


def check_uuid(value: str) -> str:
    if not isinstance(value, str) or not _UUID_RE.match(value):
        raise ValueError(f"not a channel UUID: {value!r}")
    return value


def check_var_name(name: str) -> str:
    if not isinstance(name, str) or not _VAR_NAME_RE.match(name):
        raise ValueError(f"not a channel variable name: {name!r}")
    return name


def check_name(name: str, what: str) -> str:
    """A dialplan, context, gateway or profile name: letters, digits, `_`, `.`, `-`."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"not a {what} name: {name!r}")
    return name


def check_extension(extension: str) -> str:
    if not isinstance(extension, str) or not _EXT_RE.match(extension):
        raise ValueError(f"not an extension: {extension!r}")
    return extension


def _no_newlines(value: str, what: str) -> str:
    return check_text(value, what)



# --- dial-string values ---------------------------------------------------------------------------------------
def no_expansion(text: str) -> str:
    """Escape `$` so FreeSWITCH does not expand `${...}` (which can call APIs) in app data we pass on."""
    return text.replace("$", "\\$")


_DIAL_PUNCTUATION = frozenset("._-+@#*/()")


def dial_value(value: object) -> str:
    """A value as FreeSWITCH will store it from a `{…}`/`[…]` block: built from an allow-list.

    Letters, marks and digits of any script, blanks and `. _ - + @ # * / ( )` are kept; every other character
    (`,` `|` `:` quotes, brackets, `$`, `=`, `^`, backslash, control bytes, …) becomes a blank, blanks are
    collapsed, and the result is cut to MAX_DIAL_VALUE characters. No ASCII separator FreeSWITCH's originate
    parser knows (`:_:`, `|`, `,`, `{}[]<>`, quotes, `\\`, `^^`, `${`) can survive, and non-ASCII letters
    encode to bytes >= 0x80, which no parser treats as syntax.
    """
    kept = [c if (c in _DIAL_PUNCTUATION or unicodedata.category(c)[0] in "LMN") else " " for c in str(value)]
    return " ".join("".join(kept).split())[:MAX_DIAL_VALUE].strip()


def escape_dial_value(value: object) -> str:
    """`dial_value(value)`, single-quoted when it has blanks (the API's blank splitter removes the quotes)."""
    text = dial_value(value)
    return f"'{text}'" if " " in text else text


def check_dial_target(target: str) -> str:
    """A single dial target (one leg, one endpoint): refused if it could start another leg or block."""
    if not isinstance(target, str) or not _TARGET_RE.match(target) or ENTERPRISE_DELIM in target:
        raise ValueError(f"not a single dial target: {str(target)[:60]!r}")
    return target
