"""Spoken forms for the IVR `say` node: numbers, money, dates, times and digit strings as text to speak.

Each function takes the value and a language (`zh`, `en`, or a tag like `zh-CN`) and returns plain
text for TtsService.render; bad values raise ValueError with a message naming the value.
"""
from __future__ import annotations

import datetime as dt
from types import ModuleType

from tts.spoken import en, zh
from tts.spoken.common import Number

__all__ = ["number", "money", "date", "time", "digits", "LANGUAGES"]

LANGUAGES: dict[str, ModuleType] = {"zh": zh, "en": en}
CURRENCY_ALIASES = {"CNY": "CNY", "RMB": "CNY", "元": "CNY", "¥": "CNY", "￥": "CNY", "人民币": "CNY",
                    "USD": "USD", "$": "USD", "美元": "USD", "EUR": "EUR", "€": "EUR", "欧元": "EUR"}


def _lang(language: str) -> ModuleType:
    code = str(language).strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (one of {', '.join(LANGUAGES)})")
    return LANGUAGES[code]


def number(n: Number, language: str = "zh") -> str:
    """123.5 -> 一百二十三点五 / one hundred twenty-three point five."""
    return _lang(language).number(n)


def money(amount: Number, currency: str = "CNY", language: str = "zh") -> str:
    """123.5 CNY -> 一百二十三元五角 / one hundred twenty-three yuan and fifty fen."""
    code = CURRENCY_ALIASES.get(str(currency).strip().upper(), CURRENCY_ALIASES.get(str(currency).strip()))
    if code is None:
        raise ValueError(f"unsupported currency {currency!r} (CNY, USD, EUR)")
    return _lang(language).money(amount, code)


def date(d: dt.date | str, language: str = "zh", *, weekday: bool = False) -> str:
    """2024-03-05 -> 二零二四年三月五日 / March fifth, twenty twenty-four."""
    return _lang(language).date(d, weekday=weekday)


def time(t: dt.time | str, language: str = "zh") -> str:
    """15:30 -> 下午三点三十分 / three thirty PM."""
    return _lang(language).time(t)


def digits(s: str, language: str = "zh") -> str:
    """13800 -> 幺三八零零 / one three eight zero zero."""
    return _lang(language).digits(s)
