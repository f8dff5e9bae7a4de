"""Mission opening hours as instants: open now, the next opening, and "N minutes of open time from now".

Pure functions, no database. Hours are `{"mon": [["09:00", "18:00"]], ...}` in the mission's own IANA time
zone; each local day's spans become aware instants through `zoneinfo`, so a day with a DST change is as long
as it really is. A mission with no hours at all is treated as always open (nothing says otherwise).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 15  # a weekly schedule repeats; two weeks always reach the next opening if there is one


def _clock(value: str, day: dt.date) -> tuple[dt.date, dt.time]:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours == 24:  # "24:00" closes at midnight
        return day + dt.timedelta(days=1), dt.time(0, minutes)
    return day, dt.time(hours, minutes)


def _local(day: dt.date, value: str, zone: ZoneInfo) -> dt.datetime:
    date, time = _clock(value, day)
    return dt.datetime.combine(date, time, tzinfo=zone).astimezone(dt.UTC)


def open_spans(opening_hours: dict, time_zone: str, since: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The opening spans (UTC instants) that end after `since`, in order, over the next two weeks."""
    zone = ZoneInfo(time_zone)
    first_day = since.astimezone(zone).date() - dt.timedelta(days=1)
    for offset in range(HORIZON_DAYS + 1):
        day = first_day + dt.timedelta(days=offset)
        spans = sorted(opening_hours.get(WEEKDAYS[day.weekday()]) or [])
        for opens, closes in spans:
            start, end = _local(day, opens, zone), _local(day, closes, zone)
            if end > since and end > start:
                yield start, end


def has_hours(opening_hours: dict | None) -> bool:
    return bool(opening_hours) and any(opening_hours.get(day) for day in WEEKDAYS)


def next_opening(opening_hours: dict | None, time_zone: str, at: dt.datetime) -> dt.datetime | None:
    """None when the mission is open at `at` (or has no hours); else the instant it next opens (UTC)."""
    if not has_hours(opening_hours):
        return None
    for start, _end in open_spans(opening_hours, time_zone, at):
        return None if start <= at else start
    return None


def add_open_minutes(opening_hours: dict | None, time_zone: str, start: dt.datetime, minutes: float) -> dt.datetime:
    """The instant when `minutes` of the mission's open time have passed after `start`.

    Work waiting at closing time continues at the next opening: 30 minutes of work at 17:50 on a day that
    closes at 18:00 end at 09:20 on the next working day.
    """
    if not has_hours(opening_hours):
        return start + dt.timedelta(minutes=minutes)
    remaining = dt.timedelta(minutes=minutes)
    cursor = start
    for span_start, span_end in open_spans(opening_hours, time_zone, start):
        cursor = max(cursor, span_start)
        available = span_end - cursor
        if remaining <= available:
            return cursor + remaining
        remaining -= available
        cursor = span_end
    return cursor + remaining  # past the horizon (a mostly closed schedule): count the rest as open time


def minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole minutes, rounded up (a wait is never promised shorter than it is)."""
    return max(0, math.ceil((end - start).total_seconds() / 60))
