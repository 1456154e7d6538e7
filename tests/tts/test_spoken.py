"""Spoken forms for the IVR `say` node, in Chinese and English, with the exact text expected."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tts import spoken


@pytest.mark.parametrize("value,zh,en", [
    (0, "零", "zero"),
    (7, "七", "seven"),
    (10, "十", "ten"),
    (15, "十五", "fifteen"),
    (20, "二十", "twenty"),
    (110, "一百一十", "one hundred ten"),
    (123, "一百二十三", "one hundred twenty-three"),
    (1005, "一千零五", "one thousand five"),
    (1050, "一千零五十", "one thousand fifty"),
    (10010, "一万零一十", "ten thousand ten"),
    (100100, "十万零一百", "one hundred thousand one hundred"),
    (150000, "十五万", "one hundred fifty thousand"),
    (10010000, "一千零一万", "ten million ten thousand"),
    (100000001, "一亿零一", "one hundred million one"),
    (100010000, "一亿零一万", "one hundred million ten thousand"),
    (1200000000000, "一万二千亿", "one trillion two hundred billion"),
    (-42, "负四十二", "minus forty-two"),
    (123.5, "一百二十三点五", "one hundred twenty-three point five"),
    (3.05, "三点零五", "three point zero five"),
    ("1,234.50", "一千二百三十四点五", "one thousand two hundred thirty-four point five"),
    (Decimal("0.25"), "零点二五", "zero point two five"),
])
def test_number_is_read_as_a_quantity(value, zh, en):
    assert spoken.number(value, "zh") == zh
    assert spoken.number(value, "en") == en


@pytest.mark.parametrize("amount,zh,en", [
    (123.5, "一百二十三元五角", "one hundred twenty-three yuan and fifty fen"),
    (123.05, "一百二十三元零五分", "one hundred twenty-three yuan and five fen"),
    (1.23, "一元二角三分", "one yuan and twenty-three fen"),
    (100, "一百元", "one hundred yuan"),
    (0.5, "五角", "fifty fen"),
    (0.05, "五分", "five fen"),
    (0, "零元", "zero yuan"),
    ("88.888", "八十八元八角九分", "eighty-eight yuan and eighty-nine fen"),  # rounded half up
    (-3.2, "负三元二角", "minus three yuan and twenty fen"),
])
def test_money_in_yuan(amount, zh, en):
    assert spoken.money(amount, "CNY", "zh") == zh
    assert spoken.money(amount, "CNY", "en") == en


@pytest.mark.parametrize("amount,zh,en", [
    (12.34, "十二美元三十四美分", "twelve dollars and thirty-four cents"),
    (1, "一美元", "one dollar"),
    (0.01, "一美分", "one cent"),
    (2.05, "二美元五美分", "two dollars and five cents"),
])
def test_money_in_dollars(amount, zh, en):
    assert spoken.money(amount, "USD", "zh") == zh
    assert spoken.money(amount, "USD", "en") == en


def test_currency_symbols_and_chinese_names_are_accepted():
    assert spoken.money(5, "元", "zh") == spoken.money(5, "¥", "zh") == spoken.money(5, "rmb", "zh") == "五元"
    assert spoken.money(5, "$", "en") == "five dollars"
    assert spoken.money(5, "€", "en") == "five euros"


@pytest.mark.parametrize("value,zh,en", [
    (dt.date(2024, 3, 5), "二零二四年三月五日", "March fifth, twenty twenty-four"),
    ("2005-12-31", "二零零五年十二月三十一日", "December thirty-first, two thousand five"),
    (dt.datetime(1999, 6, 22, 8, 0), "一九九九年六月二十二日", "June twenty-second, nineteen ninety-nine"),
    (dt.date(1905, 1, 3), "一九零五年一月三日", "January third, nineteen oh five"),
    (dt.date(2000, 11, 30), "二零零零年十一月三十日", "November thirtieth, two thousand"),
    (dt.date(1900, 10, 12), "一九零零年十月十二日", "October twelfth, nineteen hundred"),
])
def test_date(value, zh, en):
    assert spoken.date(value, "zh") == zh
    assert spoken.date(value, "en") == en


def test_date_with_weekday():
    assert spoken.date("2024-03-05", "zh", weekday=True) == "二零二四年三月五日星期二"
    assert spoken.date("2024-03-05", "en", weekday=True) == "Tuesday, March fifth, twenty twenty-four"


@pytest.mark.parametrize("value,zh,en", [
    ("00:00", "凌晨十二点", "twelve AM"),
    ("09:05", "上午九点零五分", "nine oh five AM"),
    ("12:00", "中午十二点", "twelve PM"),
    ("14:00", "下午两点", "two PM"),
    (dt.time(15, 30), "下午三点三十分", "three thirty PM"),
    ("22:45", "晚上十点四十五分", "ten forty-five PM"),
])
def test_time_of_day(value, zh, en):
    assert spoken.time(value, "zh") == zh
    assert spoken.time(value, "en") == en


@pytest.mark.parametrize("value,zh,en", [
    ("123", "幺二三", "one two three"),
    ("13800138000", "幺三八零零幺三八零零零", "one three eight zero zero one three eight zero zero zero"),
    ("138-0013-8000", "幺三八，零零幺三，八零零零", "one three eight, zero zero one three, eight zero zero zero"),
    ("SF1234", "S F 幺二三四", "S F one two three four"),
    ("*21#", "星号 二幺 井号", "star two one pound"),
    ("+86 10", "加 八六，幺零", "plus eight six, one zero"),
    ("", "", ""),
])
def test_digits_are_read_one_by_one(value, zh, en):
    assert spoken.digits(value, "zh") == zh
    assert spoken.digits(value, "en") == en


def test_language_tags_with_regions_are_accepted():
    assert spoken.number(2, "zh-CN") == "二"
    assert spoken.number(2, "en_US") == "two"


@pytest.mark.parametrize("call,match", [
    (lambda: spoken.number("abc"), "not a number"),
    (lambda: spoken.number(float("nan")), "not a finite number"),
    (lambda: spoken.number(True), "not a number"),
    (lambda: spoken.money(1, "XBT"), "unsupported currency"),
    (lambda: spoken.date("yesterday"), "not a date"),
    (lambda: spoken.time("25:99"), "not a time"),
    (lambda: spoken.number(1, "fr"), "unsupported language"),
])
def test_bad_values_raise_value_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_spoken_text_renders_to_audio(service):
    prompt = service.render("您的余额为" + spoken.money(123.5, "CNY", "zh"), language="zh")
    assert prompt.duration_s > 1.0
