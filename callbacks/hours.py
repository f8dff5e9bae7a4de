"""Work time in a mission's opening hours: when will N minutes of calls be done, counted in open time.

The opening hours themselves (open now, next opening, the intervals as UTC instants, DST-safe) come from
`countries.hours`; this adds only what the queue needs on top. A mission without published hours counts
as always open here (nothing says it is closed).
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

from countries.hours import has_hours, open_intervals


def add_open_minutes(opening_hours: dict | None, time_zone: str, start: dt.datetime, minutes: float) -> dt.datetime:
    """The instant when `minutes` of the mission's open time have passed after `start`.

    Work waiting at closing time continues at the next opening: 30 minutes of calls at 17:50 on a day that
    closes at 18:00 end at 09:20 on the next working day (0 minutes while closed: the next opening).
    """
    remaining = dt.timedelta(minutes=minutes)
    if not has_hours(opening_hours):
        return start + remaining
    zone = ZoneInfo(time_zone)
    cursor = start
    while True:
        ahead = [(s, e) for s, e in open_intervals(opening_hours, zone, cursor) if e > cursor]
        if not ahead:  # nothing within the schedule's window: count the rest as open time
            return cursor + remaining
        for span_start, span_end in ahead:
            cursor = max(cursor, span_start)
            if remaining <= span_end - cursor:
                return cursor + remaining
            remaining -= span_end - cursor
            cursor = span_end


def minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole minutes, rounded up (a wait is never promised shorter than it is)."""
    return max(0, math.ceil((end - start).total_seconds() / 60))
