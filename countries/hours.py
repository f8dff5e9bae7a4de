"""Weekly opening hours of a mission as instants: is it open now, when does it next open, when does that change.

Pure functions, no database. Hours are `{"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., "sun": []}` in
the mission's own IANA time zone ("24:00" closes at midnight). Every local day's spans are turned into UTC
instants through `zoneinfo`, so a day with a daylight-saving change is as long as it really is, and spans
that touch across midnight (Mon 20:00-24:00, Tue 00:00-02:00) are one opening.

A mission without published hours is neither open nor closed: `open_now` is None.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The schedule repeats weekly: a window from yesterday to eight days ahead always holds the next opening.
_DAYS_BEFORE, _DAYS_AFTER = 1, 8


@dataclass(frozen=True)
class HoursState:
    open_now: bool | None  # None: no published hours
    opens_at: dt.datetime | None  # next opening after `at`, in the mission's time zone
    closes_at: dt.datetime | None  # when the current opening ends (only when open now), mission's time zone
    next_change: dt.datetime | None  # next instant open_now flips (UTC); None if it never does


def has_hours(opening_hours: dict | None) -> bool:
    return opening_hours is not None and any(opening_hours.get(day) for day in WEEKDAYS)


def _instant(day: dt.date, clock: str, zone: ZoneInfo) -> dt.datetime:
    hours, minutes = int(clock[:2]), int(clock[3:])
    if hours == 24:
        day, hours = day + dt.timedelta(days=1), 0
    return dt.datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone).astimezone(dt.UTC)


def open_intervals(
    opening_hours: dict | None, zone: ZoneInfo, at: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Merged opening intervals (UTC) around `at`, from yesterday's to those eight days ahead, in order."""
    if not opening_hours:
        return []
    today = at.astimezone(zone).date()
    raw: list[tuple[dt.datetime, dt.datetime]] = []
    for offset in range(-_DAYS_BEFORE, _DAYS_AFTER + 1):
        day = today + dt.timedelta(days=offset)
        for opens, closes in opening_hours.get(WEEKDAYS[day.weekday()]) or ():
            start, end = _instant(day, opens, zone), _instant(day, closes, zone)
            if end > start:  # a span swallowed by a DST gap is empty
                raw.append((start, end))
    raw.sort()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in raw:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def hours_state(opening_hours: dict | None, time_zone: str, at: dt.datetime) -> HoursState:
    """Whether a mission is open at `at` (aware), its next opening and the next instant that changes."""
    if not has_hours(opening_hours):
        return HoursState(open_now=None, opens_at=None, closes_at=None, next_change=None)
    zone = ZoneInfo(time_zone)
    intervals = open_intervals(opening_hours, zone, at)
    current = next(((start, end) for start, end in intervals if start <= at < end), None)
    opens_at = next((start for start, _end in intervals if start > at), None)
    if current is not None:
        return HoursState(
            open_now=True,
            opens_at=opens_at.astimezone(zone) if opens_at else None,
            closes_at=current[1].astimezone(zone),
            next_change=current[1],
        )
    return HoursState(
        open_now=False,
        opens_at=opens_at.astimezone(zone) if opens_at else None,
        closes_at=None,
        next_change=opens_at,
    )
