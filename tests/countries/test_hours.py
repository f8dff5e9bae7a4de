"""Opening hours in the mission's own time zone: open now, next opening, next change (pure functions)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from countries.hours import hours_state
from countries.models import validate_opening_hours

YEREVAN = ZoneInfo("Asia/Yerevan")  # UTC+4, no daylight saving
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAY_HOURS = {day: [["09:00", "13:00"], ["14:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": [],
    "sun": [],
}


def local(zone, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


def test_open_in_the_morning_closes_at_lunch_and_opens_again_after_it():
    at = local(YEREVAN, 2026, 11, 23, 10, 30)  # Monday
    state = hours_state(WEEKDAY_HOURS, "Asia/Yerevan", at)
    assert state.open_now is True
    assert state.closes_at == local(YEREVAN, 2026, 11, 23, 13, 0)
    assert state.opens_at == local(YEREVAN, 2026, 11, 23, 14, 0)
    assert state.next_change == dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    assert state.opens_at.utcoffset() == dt.timedelta(hours=4)  # local time with the mission's offset


def test_closed_at_lunch_until_the_afternoon():
    state = hours_state(WEEKDAY_HOURS, "Asia/Yerevan", local(YEREVAN, 2026, 11, 23, 13, 30))
    assert (state.open_now, state.closes_at) == (False, None)
    assert state.opens_at == local(YEREVAN, 2026, 11, 23, 14, 0)
    assert state.next_change == state.opens_at


def test_closing_time_itself_is_closed():
    state = hours_state(WEEKDAY_HOURS, "Asia/Yerevan", local(YEREVAN, 2026, 11, 23, 18, 0))
    assert state.open_now is False
    assert state.opens_at == local(YEREVAN, 2026, 11, 24, 9, 0)


def test_friday_evening_next_opening_is_monday_morning():
    state = hours_state(WEEKDAY_HOURS, "Asia/Yerevan", local(YEREVAN, 2026, 11, 27, 19, 0))  # Friday
    assert state.open_now is False
    assert state.opens_at == local(YEREVAN, 2026, 11, 30, 9, 0)  # Monday


def test_the_local_day_decides_not_the_utc_day():
    """01:00 UTC on Monday is already 05:00 Monday in Yerevan but 20:00 Sunday in New York."""
    at = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
    assert hours_state(WEEKDAY_HOURS, "Asia/Yerevan", at).opens_at == local(YEREVAN, 2026, 11, 23, 9, 0)
    assert hours_state(WEEKDAY_HOURS, "America/New_York", at).opens_at == local(NEW_YORK, 2026, 11, 23, 9, 0)


def test_spans_touching_across_midnight_are_one_opening():
    hours = {"mon": [["20:00", "24:00"]], "tue": [["00:00", "02:00"]]}
    state = hours_state(hours, "Asia/Yerevan", local(YEREVAN, 2026, 11, 23, 23, 0))
    assert state.open_now is True
    assert state.closes_at == local(YEREVAN, 2026, 11, 24, 2, 0)
    assert state.opens_at == local(YEREVAN, 2026, 11, 30, 20, 0)  # the next Monday


def test_after_spring_forward_the_next_opening_is_an_hour_earlier_in_utc():
    """New York moves to EDT on Sunday 8 March 2026: Monday 09:00 is 13:00 UTC, not 14:00."""
    saturday = local(NEW_YORK, 2026, 3, 7, 12, 0)
    state = hours_state(WEEKDAY_HOURS, "America/New_York", saturday)
    assert state.opens_at.astimezone(dt.UTC) == dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC)
    assert state.opens_at.utcoffset() == dt.timedelta(hours=-4)
    friday = local(NEW_YORK, 2026, 3, 6, 12, 0)
    assert hours_state(WEEKDAY_HOURS, "America/New_York", friday).closes_at.astimezone(dt.UTC) == dt.datetime(
        2026, 3, 6, 18, 0, tzinfo=dt.UTC
    )


def test_after_fall_back_the_next_opening_is_an_hour_later_in_utc():
    """New York returns to EST on Sunday 1 November 2026: Monday 09:00 is 14:00 UTC."""
    state = hours_state(WEEKDAY_HOURS, "America/New_York", local(NEW_YORK, 2026, 10, 31, 12, 0))
    assert state.opens_at.astimezone(dt.UTC) == dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)


def test_a_span_inside_the_daylight_saving_gap_never_opens():
    hours = {"sun": [["02:00", "03:00"]], "mon": [["09:00", "10:00"]]}
    state = hours_state(hours, "America/New_York", local(NEW_YORK, 2026, 3, 8, 0, 30))
    assert state.open_now is False
    assert state.opens_at == local(NEW_YORK, 2026, 3, 9, 9, 0)


def test_a_day_longer_than_24_hours_keeps_the_extra_hour_open():
    """A span 00:00-24:00 on the fall-back day lasts 25 real hours."""
    hours = {"sun": [["00:00", "24:00"]]}
    state = hours_state(hours, "America/New_York", local(NEW_YORK, 2026, 11, 1, 0, 30))
    assert state.open_now is True
    assert state.closes_at.astimezone(dt.UTC) - dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC) == dt.timedelta(hours=25)


def test_no_published_hours_is_neither_open_nor_closed():
    for hours in ({}, None, {"mon": [], "sun": []}):
        state = hours_state(hours, "Asia/Yerevan", local(YEREVAN, 2026, 11, 23, 10, 0))
        assert (state.open_now, state.opens_at, state.next_change) == (None, None, None)


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["09:00", "25:00"]]},
        {"mon": [["24:00", "24:00"]]},
        {"mon": [["18:00", "09:00"]]},
        {"mon": [["9:00", "18:00"]]},
        {"mon": [["09:00"]]},
        {"monday": [["09:00", "18:00"]]},
        {"mon": "09:00-18:00"},
        [["09:00", "18:00"]],
    ],
)
def test_invalid_hours_are_rejected(hours):
    with pytest.raises(ValidationError):
        validate_opening_hours(hours)


def test_valid_hours_with_midnight_close_pass():
    validate_opening_hours({"mon": [["00:00", "12:00"], ["13:00", "24:00"]], "sun": []})
