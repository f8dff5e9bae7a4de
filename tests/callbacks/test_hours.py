"""Work time counted in a mission's opening hours (pure functions, no database)."""

import datetime as dt

from callbacks.hours import add_open_minutes, minutes_between

WEEKDAYS_9_18 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}
SPLIT = {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
YEREVAN = "Asia/Yerevan"  # UTC+4


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def test_inside_opening_hours_time_passes_as_usual():
    assert add_open_minutes(WEEKDAYS_9_18, YEREVAN, utc(2026, 3, 3, 8, 0), 30) == utc(2026, 3, 3, 8, 30)


def test_no_work_while_closed_means_the_next_opening():
    assert add_open_minutes(WEEKDAYS_9_18, YEREVAN, utc(2026, 3, 3, 16, 0), 0) == utc(2026, 3, 4, 5, 0)


def test_a_lunch_break_is_not_counted():
    # 12:50 local + 20 minutes: 10 before lunch, 10 after 14:00
    assert add_open_minutes(SPLIT, YEREVAN, utc(2026, 3, 3, 8, 50), 20) == utc(2026, 3, 3, 10, 10)


def test_work_continues_after_the_weekend():
    # Friday 17:00 local + 2 hours: 1 hour on Friday, 1 on Monday -> Monday 10:00 local
    assert add_open_minutes(WEEKDAYS_9_18, YEREVAN, utc(2026, 3, 6, 13, 0), 120) == utc(2026, 3, 9, 6, 0)


def test_work_longer_than_the_schedule_window_keeps_counting():
    # 12 working days of 9 hours from Monday 09:00: ends on the second Tuesday after, at 18:00 local
    end = add_open_minutes(WEEKDAYS_9_18, YEREVAN, utc(2026, 3, 2, 5, 0), 12 * 9 * 60)
    assert end == utc(2026, 3, 17, 14, 0)


def test_without_published_hours_every_minute_counts():
    assert add_open_minutes({}, YEREVAN, utc(2026, 3, 8, 0, 0), 90) == utc(2026, 3, 8, 1, 30)
    assert add_open_minutes(None, YEREVAN, utc(2026, 3, 8, 0, 0), 0) == utc(2026, 3, 8, 0, 0)


def test_spring_forward_in_the_mission_time_zone():
    # Ljubljana, Sunday 29 March 2026 02:00 -> 03:00. Friday 17:30 CET (UTC+1) + 60 minutes: 30 on Friday,
    # 30 from Monday 09:00 CEST (UTC+2) -> 09:30 CEST = 07:30 UTC.
    friday = utc(2026, 3, 27, 16, 30)
    assert add_open_minutes(WEEKDAYS_9_18, "Europe/Ljubljana", friday, 60) == utc(2026, 3, 30, 7, 30)


def test_minutes_are_rounded_up():
    start = utc(2026, 3, 3, 8, 0)
    assert minutes_between(start, start + dt.timedelta(seconds=61)) == 2
    assert minutes_between(start, start) == 0
    assert minutes_between(start, start - dt.timedelta(minutes=5)) == 0
