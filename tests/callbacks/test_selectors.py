"""Position in the queue and the estimated wait, in the mission's time zone (frozen clocks)."""

import datetime as dt

import pytest
import time_machine

from callbacks.models import CallbackRequest, Status, Topic
from callbacks.selectors import queue_estimate, with_queue_figures
from tests.factories.callbacks import CallbackAttemptFactory, CallbackRequestFactory, StaffUserFactory
from tests.factories.countries import MissionFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC
TUE_NOON_YEREVAN = dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # Asia/Yerevan is UTC+4 all year


def queued(mission, at, topic=Topic.OTHER, **kwargs):
    return CallbackRequestFactory(mission=mission, country=mission.country, topic=topic, queued_at=at, **kwargs)


def estimate(request, now):
    fresh = with_queue_figures(CallbackRequest.objects.select_related("mission"), now=now).get(pk=request.pk)
    return queue_estimate(fresh, now=now)


def positions(now, *requests):
    return [estimate(r, now).position for r in requests]


# --- position -------------------------------------------------------------------------------------------------


def test_position_counts_the_waiting_requests_ahead_in_claim_order(embassy):
    now = TUE_NOON_YEREVAN
    a = queued(embassy, now - dt.timedelta(minutes=30))
    b = queued(embassy, now - dt.timedelta(minutes=20))
    c = queued(embassy, now - dt.timedelta(minutes=10))
    assert positions(now, a, b, c) == [0, 1, 2]
    urgent = queued(embassy, now - dt.timedelta(minutes=1), Topic.MEDICAL_EMERGENCY)
    assert positions(now, urgent, a, b, c) == [0, 1, 2, 3]


def test_position_ignores_other_queues_and_requests_not_waiting(embassy, consulate, staff):
    now = TUE_NOON_YEREVAN
    earlier = now - dt.timedelta(minutes=30)
    queued(consulate, earlier)
    queued(embassy, earlier, status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=now)
    for closed in (Status.COMPLETED, Status.CANCELLED, Status.EXPIRED, Status.UNREACHABLE):
        queued(embassy, earlier, status=closed, closed_at=now)
    mine = queued(embassy, now - dt.timedelta(minutes=5))
    assert positions(now, mine) == [0]


def test_a_request_waiting_for_its_retry_keeps_its_place_ahead(embassy):
    now = TUE_NOON_YEREVAN
    retried = queued(
        embassy, now - dt.timedelta(minutes=40), status=Status.NO_ANSWER, available_at=now + dt.timedelta(minutes=10)
    )
    mine = queued(embassy, now - dt.timedelta(minutes=5))
    assert positions(now, retried, mine) == [0, 1]


def test_no_position_or_wait_unless_waiting(embassy, staff):
    now = TUE_NOON_YEREVAN
    taken = queued(embassy, now, status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=now)
    done = queued(embassy, now, status=Status.COMPLETED, closed_at=now)
    for request in (taken, done):
        result = estimate(request, now)
        assert (result.position, result.estimated_wait_minutes) == (None, None)


# --- estimated wait while open ------------------------------------------------------------------------------


def test_wait_is_position_times_the_default_handling_time_without_history(embassy):
    now = TUE_NOON_YEREVAN
    requests = [queued(embassy, now - dt.timedelta(minutes=10 - i)) for i in range(3)]
    assert [estimate(r, now).estimated_wait_minutes for r in requests] == [0, 10, 20]
    result = estimate(requests[0], now)
    assert result.mission_open is True
    assert result.mission_opens_at is None
    assert result.mission_opens_at_utc is None


def test_wait_uses_the_missions_recent_completed_calls(embassy, consulate):
    now = TUE_NOON_YEREVAN
    staff = StaffUserFactory(missions=[embassy])
    for minutes in (4, 6):  # average 5
        start = now - dt.timedelta(hours=1)
        CallbackAttemptFactory(
            request__mission=embassy, staff=staff, started_at=start, ended_at=start + dt.timedelta(minutes=minutes)
        )
    # not counted: unanswered calls, other missions, calls older than the window
    CallbackAttemptFactory(request__mission=embassy, staff=staff, outcome="no_answer", started_at=now, ended_at=now)
    start = now - dt.timedelta(hours=2)
    CallbackAttemptFactory(
        request__mission=consulate, staff=staff, started_at=start, ended_at=start + dt.timedelta(minutes=60)
    )
    start = now - dt.timedelta(days=40)
    CallbackAttemptFactory(
        request__mission=embassy, staff=staff, started_at=start, ended_at=start + dt.timedelta(minutes=90)
    )
    requests = [queued(embassy, now - dt.timedelta(minutes=10 - i)) for i in range(4)]
    assert [estimate(r, now).estimated_wait_minutes for r in requests] == [0, 5, 10, 15]


def test_only_the_last_twenty_completed_calls_count(embassy):
    now = TUE_NOON_YEREVAN
    staff = StaffUserFactory(missions=[embassy])
    for i in range(25):  # five old 30-minute calls, then twenty recent 3-minute calls
        start = now - dt.timedelta(hours=30 - i)
        length = 30 if i < 5 else 3
        CallbackAttemptFactory(
            request__mission=embassy, staff=staff, started_at=start, ended_at=start + dt.timedelta(minutes=length)
        )
    queued(embassy, now - dt.timedelta(minutes=10))
    mine = queued(embassy, now - dt.timedelta(minutes=5))
    assert estimate(mine, now).estimated_wait_minutes == 3


def test_wait_of_a_retried_request_starts_when_its_delay_ends(embassy):
    now = TUE_NOON_YEREVAN
    retried = queued(
        embassy, now - dt.timedelta(minutes=40), status=Status.NO_ANSWER, available_at=now + dt.timedelta(minutes=12)
    )
    assert estimate(retried, now).estimated_wait_minutes == 12


# --- closed missions, in the mission's time zone -----------------------------------------------------------------


def test_closed_in_the_evening_waits_for_the_next_morning_in_local_time(embassy):
    now = dt.datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # Tuesday 20:00 in Yerevan
    queued(embassy, now - dt.timedelta(minutes=10))
    mine = queued(embassy, now - dt.timedelta(minutes=5))
    result = estimate(mine, now)
    assert result.mission_open is False
    assert result.mission_opens_at.isoformat() == "2026-03-04T09:00:00+04:00"
    assert result.mission_opens_at_utc.isoformat() == "2026-03-04T05:00:00+00:00"
    assert result.estimated_wait_minutes == 13 * 60 + 10  # until 09:00, then one call ahead


def test_work_left_at_closing_time_continues_at_the_next_opening(embassy):
    now = dt.datetime(2026, 3, 3, 13, 50, tzinfo=UTC)  # Tuesday 17:50 in Yerevan, closes at 18:00
    for i in range(3):
        queued(embassy, now - dt.timedelta(minutes=30 - i))
    mine = queued(embassy, now)
    result = estimate(mine, now)
    assert result.mission_open is True
    # 30 minutes of calls ahead: 10 before closing, 20 after Wednesday's 09:00 opening -> 09:20
    assert result.estimated_wait_minutes == (15 * 60 + 20) + 10


def test_friday_evening_waits_until_monday(embassy):
    now = dt.datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Friday 19:00 in Yerevan
    mine = queued(embassy, now)
    result = estimate(mine, now)
    assert result.mission_opens_at.isoformat() == "2026-03-09T09:00:00+04:00"
    assert result.estimated_wait_minutes == (2 * 24 + 14) * 60


def test_across_the_spring_dst_change_a_weekend_is_an_hour_shorter(launch_countries):
    slovenia = MissionFactory(country=launch_countries["SI"], time_zone="Europe/Ljubljana")
    now = dt.datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # Saturday 12:00 CET; clocks go forward on Sunday 29th
    mine = queued(slovenia, now)
    result = estimate(mine, now)
    assert result.mission_opens_at.isoformat() == "2026-03-30T09:00:00+02:00"
    assert result.mission_opens_at_utc.isoformat() == "2026-03-30T07:00:00+00:00"
    assert result.estimated_wait_minutes == 44 * 60  # Sat 12:00 -> Mon 09:00 is 45 hours on the wall clock


def test_across_the_autumn_dst_change_a_weekend_is_an_hour_longer(launch_countries):
    new_york = MissionFactory(country=launch_countries["US"], time_zone="America/New_York")
    now = dt.datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # Saturday 12:00 EDT; clocks go back on Sunday Nov 1st
    result = estimate(queued(new_york, now), now)
    assert result.mission_opens_at.isoformat() == "2026-11-02T09:00:00-05:00"
    assert result.estimated_wait_minutes == 46 * 60


def test_the_same_instant_is_open_in_one_time_zone_and_closed_in_another(launch_countries):
    now = dt.datetime(2026, 3, 3, 14, 30, tzinfo=UTC)  # Tuesday: 09:30 in New York, 21:30 in Phnom Penh
    new_york = MissionFactory(country=launch_countries["US"], time_zone="America/New_York")
    phnom_penh = MissionFactory(country=launch_countries["KH"], time_zone="Asia/Phnom_Penh")
    assert estimate(queued(new_york, now), now).mission_open is True
    result = estimate(queued(phnom_penh, now), now)
    assert result.mission_open is False
    assert result.mission_opens_at.isoformat() == "2026-03-04T09:00:00+07:00"


def test_a_mission_without_published_hours_is_worked_as_if_open(armenia):
    mission = MissionFactory(country=armenia, opening_hours={})
    now = dt.datetime(2026, 3, 8, 3, 0, tzinfo=UTC)  # Sunday night
    queued(mission, now - dt.timedelta(minutes=1))
    result = estimate(queued(mission, now), now)
    assert (result.mission_open, result.mission_opens_at, result.estimated_wait_minutes) == (None, None, 10)


def test_estimates_follow_a_frozen_wall_clock(embassy):
    with time_machine.travel(dt.datetime(2026, 3, 3, 16, 0, tzinfo=UTC), tick=False):
        mine = queued(embassy, dt.datetime(2026, 3, 3, 15, 0, tzinfo=UTC))
        fresh = with_queue_figures(CallbackRequest.objects.select_related("mission")).get(pk=mine.pk)
        assert queue_estimate(fresh).estimated_wait_minutes == 13 * 60


def test_the_travelers_data_export_carries_their_requests_and_calls(embassy, staff):
    from travelers.services import traveler_export

    request = queued(embassy, TUE_NOON_YEREVAN, message="Lost passport", city="Gyumri")
    CallbackAttemptFactory(request=request, staff=staff, outcome="no_answer", note="voicemail")
    CallbackRequestFactory(mission=embassy, country=embassy.country)  # someone else's
    section = traveler_export(traveler=request.traveler)["callback_requests"]
    assert len(section) == 1
    assert section[0]["id"] == request.pk
    assert (section[0]["message"], section[0]["city"], section[0]["country"]) == ("Lost passport", "Gyumri", "AM")
    assert [(c["outcome"], c["note"]) for c in section[0]["calls"]] == [("no_answer", "voicemail")]
    assert "claimed_by" not in section[0]
