"""Mandarin spoken forms: 一百二十三, 一百二十三元五角, 二零二四年三月五日, 幺三八 (one by one)."""
from __future__ import annotations

import datetime as dt

from tts.spoken.common import Number, split_number, to_cents, to_date, to_time

DIGIT = "零一二三四五六七八九"
PHONE_DIGIT = "零幺二三四五六七八九"  # 1 is read 幺 when digits are read one by one
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
CURRENCIES = {"CNY": ("元", "角", "分"), "USD": ("美元", None, "美分"), "EUR": ("欧元", None, "欧分")}
SYMBOLS = {"*": "星号", "#": "井号", "+": "加"}
SEPARATORS = set(" -_/.()\t")


def _group(n: int) -> str:
    """0 < n < 10000: 一千零五, 一千零五十, 三百."""
    out: list[str] = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGIT[d] + unit)
    return "".join(out)


def _below_yi(n: int) -> str:
    """0 < n < 10^8: 一千零一万, 十万零一百."""
    high, low = divmod(n, 10000)
    out = _group(high) + "万" if high else ""
    if low:
        out += ("零" if high and low < 1000 else "") + _group(low)
    return out


def integer(n: int) -> str:
    """Whole number: 0 -> 零, 10 -> 十, 110 -> 一百一十, 100000001 -> 一亿零一, -5 -> 负五."""
    if n < 0:
        return "负" + integer(-n)
    if n == 0:
        return "零"
    if n >= 10**16:  # beyond 万亿: read digit by digit
        return "".join(DIGIT[int(c)] for c in str(n))
    high, low = divmod(n, 10**8)
    out = _below_yi(high) + "亿" if high else ""
    if low:
        out += ("零" if high and low < 10**7 else "") + _below_yi(low)
    return out[1:] if out.startswith("一十") else out


def number(value: Number) -> str:
    """123.5 -> 一百二十三点五; 3.05 -> 三点零五."""
    negative, whole, frac = split_number(value)
    text = integer(whole) + ("点" + "".join(DIGIT[int(c)] for c in frac) if frac else "")
    return ("负" if negative else "") + text


def money(amount: Number, currency: str) -> str:
    """CNY 123.5 -> 一百二十三元五角, 123.05 -> 一百二十三元零五分; USD 12.34 -> 十二美元三十四美分."""
    if currency not in CURRENCIES:
        raise ValueError(f"unsupported currency {currency!r} (one of {', '.join(CURRENCIES)})")
    major, tenth, hundredth = CURRENCIES[currency]
    negative, units, cents = to_cents(amount)
    parts: list[str] = []
    if units:
        parts.append(integer(units) + major)
    if tenth:
        jiao, fen = divmod(cents, 10)
        if jiao:
            parts.append(DIGIT[jiao] + tenth)
        if fen:
            parts.append(("零" if units and not jiao else "") + DIGIT[fen] + hundredth)
    elif cents:
        parts.append(integer(cents) + hundredth)
    text = "".join(parts) or "零" + major
    return ("负" if negative else "") + text


def date(value: dt.date | str, *, weekday: bool = False) -> str:
    """2024-03-05 -> 二零二四年三月五日 (年 read digit by digit, as spoken)."""
    d = to_date(value)
    text = "".join(DIGIT[int(c)] for c in str(d.year)) + f"年{integer(d.month)}月{integer(d.day)}日"
    return text + (WEEKDAYS[d.weekday()] if weekday else "")


def time(value: dt.time | str) -> str:
    """15:30 -> 下午三点三十分; 14:00 -> 下午两点; 09:05 -> 上午九点零五分."""
    t = to_time(value)
    h = t.hour
    period = "凌晨" if h < 6 else "上午" if h < 12 else "中午" if h < 13 else "下午" if h < 18 else "晚上"
    h12 = h % 12 or 12
    hour = "两" if h12 == 2 else integer(h12)
    minute = "" if t.minute == 0 else ("零" if t.minute < 10 else "") + integer(t.minute) + "分"
    return f"{period}{hour}点{minute}"


def digits(value: str) -> str:
    """Read one by one as on the phone: 138-0013 -> 幺三八，零零幺三; SF12 -> S F 幺二."""
    out: list[str] = []
    for ch in str(value):
        if ch.isdigit() and ch.isascii():
            token, glue = PHONE_DIGIT[int(ch)], True
        elif ch in SEPARATORS:
            if out and out[-1] != "，":
                out.append("，")
            continue
        elif ch in SYMBOLS:
            token, glue = SYMBOLS[ch], False
        elif ch.isascii() and ch.isalpha():
            token, glue = ch.upper(), False
        else:
            token, glue = ch, True
        if out and out[-1] != "，" and not (glue and _glues(out[-1])):
            out.append(" ")
        out.append(token)
    while out and out[-1] == "，":
        out.pop()
    return "".join(out)


def _glues(previous: str) -> bool:
    return not (previous.isascii() and previous.isalpha()) and previous not in SYMBOLS.values()
