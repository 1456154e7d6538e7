"""Input coercion shared by the Chinese and English spoken forms (numbers, amounts, dates, times)."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

Number = int | float | Decimal | str


def to_decimal(value: Number) -> Decimal:
    """Exact decimal of an int, float (its shortest repr), Decimal or numeric string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        result = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def split_number(value: Number) -> tuple[bool, int, str]:
    """(negative, integer part, fraction digits without trailing zeros)."""
    number = to_decimal(value)
    negative = number < 0
    text = format(abs(number), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return negative and (int(whole) != 0 or bool(frac)), int(whole), frac


def to_cents(amount: Number) -> tuple[bool, int, int]:
    """(negative, whole units, hundredths), rounded half-up to the hundredth."""
    number = to_decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    cents = int(abs(number) * 100)
    return number < 0 and cents != 0, cents // 100, cents % 100


def to_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError(f"not a date (expected a date or YYYY-MM-DD): {value!r}")


def to_time(value: dt.time | dt.datetime | str) -> dt.time:
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"not a time of day (expected a time or HH:MM): {value!r}")
