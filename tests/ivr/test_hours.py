"""Opening hours in the schedule's own time zone: DST-free and DST zones, holidays, overnight intervals."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from engine.ivr.hours import is_open, parse_weekly, zone
from tests.ivr.test_flow_validation import problems

OFFICE = {"mon-fri": "09:00-17:00", "sat,sun": "closed"}


def open_at(weekly: dict, tz: str, *utc: int, holidays: frozenset[date] = frozenset()) -> bool:
    schedule, trouble = parse_weekly(weekly)
    assert trouble == []
    return is_open(datetime(*utc, tzinfo=timezone.utc), zone(tz), schedule, holidays)


@pytest.mark.parametrize("utc, expected", [
    ((2026, 1, 7, 1, 0), True),     # Wed 09:00 in Shanghai (UTC+8 all year)
    ((2026, 7, 8, 1, 0), True),     # the same in July: no daylight saving time in China
    ((2026, 7, 8, 0, 59), False),   # 08:59
    ((2026, 7, 8, 9, 0), False),    # 17:00: the end of an interval is excluded
    ((2026, 7, 10, 16, 30), False),  # Sat 00:30 in Shanghai while it is still Friday in UTC
])
def test_shanghai_office_hours_are_the_same_all_year(utc, expected):
    assert open_at(OFFICE, "Asia/Shanghai", *utc) is expected


@pytest.mark.parametrize("utc, expected", [
    ((2026, 3, 27, 8, 0), True),    # Fri 09:00 CET (UTC+1), before the switch on Sunday 29 March
    ((2026, 3, 27, 7, 30), False),  # Fri 08:30 CET
    ((2026, 3, 30, 7, 0), True),    # Mon 09:00 CEST (UTC+2): a UTC-fixed schedule would still be closed
    ((2026, 3, 30, 15, 0), False),  # Mon 17:00 CEST: a UTC-fixed schedule would still be open
    ((2026, 10, 23, 14, 30), True),  # Fri 16:30 CEST, before the switch back on Sunday 25 October
    ((2026, 10, 26, 15, 30), True),  # Mon 16:30 CET
    ((2026, 10, 26, 7, 30), False),  # Mon 08:30 CET
])
def test_berlin_office_hours_follow_daylight_saving_time(utc, expected):
    assert open_at(OFFICE, "Europe/Berlin", *utc) is expected


def test_a_holiday_is_the_local_date_not_the_utc_date():
    national_day = frozenset({date(2026, 10, 1)})
    daily = {"daily": "24h"}
    assert not open_at(daily, "Asia/Shanghai", 2026, 9, 30, 16, 0, holidays=national_day)  # 1 Oct 00:00 local
    assert open_at(daily, "Asia/Shanghai", 2026, 9, 30, 15, 59, holidays=national_day)     # 30 Sep 23:59 local
    assert open_at(daily, "Asia/Shanghai", 2026, 10, 1, 16, 0, holidays=national_day)      # 2 Oct 00:00 local


NIGHT_LINE = {"mon-fri": "22:00-06:00"}


@pytest.mark.parametrize("utc, expected", [
    ((2026, 11, 27, 14, 0), True),    # Fri 22:00 in Shanghai
    ((2026, 11, 27, 13, 59), False),  # Fri 21:59
    ((2026, 11, 27, 21, 59), True),   # Sat 05:59: Friday's night is still running
    ((2026, 11, 27, 22, 0), False),   # Sat 06:00: the end is excluded
    ((2026, 11, 28, 14, 0), False),   # Sat 22:00: no night starts on Saturday
    ((2026, 11, 29, 20, 0), False),   # Mon 04:00: Sunday night was closed
    ((2026, 11, 30, 20, 0), True),    # Tue 04:00: Monday's night
])
def test_an_overnight_interval_runs_past_midnight_into_the_next_day(utc, expected):
    assert open_at(NIGHT_LINE, "Asia/Shanghai", *utc) is expected


def test_a_holiday_closes_its_own_date_and_the_night_that_starts_on_it():
    friday_off = frozenset({date(2026, 11, 27)})
    assert not open_at(NIGHT_LINE, "Asia/Shanghai", 2026, 11, 27, 15, 0, holidays=friday_off)  # Fri 23:00
    assert not open_at(NIGHT_LINE, "Asia/Shanghai", 2026, 11, 27, 19, 0, holidays=friday_off)  # Sat 03:00
    thursday_night = open_at(NIGHT_LINE, "Asia/Shanghai", 2026, 11, 26, 19, 0, holidays=friday_off)  # Fri 03:00
    assert not thursday_night  # early Friday is the holiday's own date


def test_overnight_intervals_validate_and_an_empty_interval_is_an_error(tmp_path):
    text = """\
    start: h
    nodes:
      h: {type: hours, weekly: {mon-fri: "22:00-06:00", sat: "06:00-06:00", sun: ["00:00-02:00", "20:00-24:00"]}, open: bye, closed: bye}
      bye: {type: hangup}
    """
    (found,) = problems(tmp_path, text)
    assert "nodes.h.weekly.sat: expected 'HH:MM-HH:MM'" in found


def test_a_branch_on_the_local_hour_uses_the_localtime_filter(harness):
    harness.write("main", """\
    start: b
    nodes:
      b:
        type: branch
        conditions: [{if: "(now|localtime('Asia/Shanghai')).hour >= 20", next: evening}]
        else: day
      evening: {type: play, tts: 晚上好, next: bye}
      day: {type: play, tts: 您好, next: bye}
      bye: {type: hangup}
    """)
    harness.now = lambda: datetime(2026, 11, 25, 13, 0, tzinfo=timezone.utc)  # 21:00 in Shanghai
    channel, _ = harness.call()
    assert channel.played == ["tts:zh:晚上好"]
    harness.now = lambda: datetime(2026, 11, 25, 20, 0, tzinfo=timezone.utc)  # 04:00 in Shanghai
    channel, _ = harness.call()
    assert channel.played == ["tts:zh:您好"]


def test_localtime_with_an_unknown_zone_makes_the_condition_false(harness):
    harness.write("main", """\
    start: b
    nodes:
      b: {type: branch, conditions: [{if: "(now|localtime('Mars/Olympus')).hour >= 0", next: is_open}], else: not_open}
      is_open: {type: play, tts: 是, next: bye}
      not_open: {type: play, tts: 否, next: bye}
      bye: {type: hangup}
    """)
    channel, _ = harness.call()
    assert channel.played == ["tts:zh:否"]
