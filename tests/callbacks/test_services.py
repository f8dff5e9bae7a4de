import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.utils import translation

from callbacks.models import CallbackAttempt, CallbackRequest, Outcome, Status, Topic
from callbacks.services import (
    callback_attempt_record,
    callback_claims_release_stale,
    callback_request_cancel,
    callback_request_claim_next,
    callback_request_create,
    callback_requests_expire_stale,
)
from core.exceptions import ApplicationError
from tests.factories.callbacks import CallbackRequestFactory, StaffUserFactory
from tests.factories.countries import CountryFactory, MissionFactory
from tests.factories.travelers import TravelerFactory, TripFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)  # a Tuesday, 12:00 in Yerevan


def create(traveler, **kwargs):
    return callback_request_create(traveler=traveler, **({"country": "AM", "topic": Topic.OTHER} | kwargs))


def error_of(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        call()
    return info.value


# --- the availability rule -----------------------------------------------------------------------------------


def test_request_in_an_enabled_country_is_queued_with_the_embassy(embassy, traveler):
    with time_machine.travel(T0, tick=False):
        request = create(traveler, topic=Topic.LOST_DOCUMENTS, message="Passport stolen", language="en")
    assert request.status == Status.QUEUED
    assert request.mission == embassy
    assert request.country_id == "AM"
    assert request.queued_at == request.available_at == T0
    assert request.priority == 1
    assert not request.is_urgent
    assert request.language == "en"


@pytest.mark.parametrize("code", ["am", "Am", " AM "])
def test_country_code_in_any_case(embassy, traveler, code):
    assert create(traveler, country=code).country_id == "AM"


@pytest.mark.parametrize("code", ["ZZ", "", "ARM", "XK"])
def test_unknown_country_is_country_not_found(embassy, traveler, code):
    error = error_of(lambda: create(traveler, country=code))
    assert (error.code, error.status_code, error.field) == ("country_not_found", 400, "country")


def test_known_country_without_callbacks_names_where_they_are_available(launch_countries, traveler):
    with translation.override("en"):
        error = error_of(lambda: create(traveler, country="fr"))
    assert (error.code, error.status_code) == ("callback_not_available", 400)
    assert error.extra["available_countries"] == ["AM", "JO", "KH", "SI", "US"]
    for name in ("France", "Armenia", "Jordan", "Cambodia", "Slovenia", "United States"):
        assert name in str(error.detail)
    assert not CallbackRequest.objects.exists()


def test_not_available_message_follows_the_active_language(launch_countries, traveler):
    with translation.override("ru"):
        error = error_of(lambda: create(traveler, country="TR"))
    assert "Армения" in str(error.detail)
    assert "Иордания" in str(error.detail)


def test_the_list_of_available_countries_comes_from_the_database(launch_countries, traveler):
    CountryFactory(code="DE", callbacks_enabled=True)
    launch_countries["KH"].callbacks_enabled = False
    launch_countries["KH"].save()
    error = error_of(lambda: create(traveler, country="FR"))
    assert error.extra["available_countries"] == ["AM", "DE", "JO", "SI", "US"]


def test_switching_a_country_off_applies_to_the_next_request_and_open_ones_are_still_worked(embassy, staff):
    first = create(TravelerFactory())
    embassy.country.callbacks_enabled = False
    embassy.country.save()

    assert error_of(lambda: create(TravelerFactory())).code == "callback_not_available"
    claimed = callback_request_claim_next(staff=staff, mission=embassy)
    assert claimed.pk == first.pk
    callback_attempt_record(request=claimed, staff=staff, outcome=Outcome.COMPLETED)
    assert CallbackRequest.objects.get(pk=first.pk).status == Status.COMPLETED


def test_switching_a_country_on_opens_it_for_the_next_request(launch_countries, traveler):
    france = CountryFactory(code="FR")
    MissionFactory(country=france, time_zone="Europe/Paris")
    assert error_of(lambda: create(traveler, country="FR")).code == "callback_not_available"
    france.callbacks_enabled = True
    france.save()
    assert create(traveler, country="FR").status == Status.QUEUED


def test_enabled_country_without_an_active_mission_is_not_available(armenia, traveler):
    MissionFactory(country=armenia, is_active=False)
    error = error_of(lambda: create(traveler))
    assert error.code == "callback_not_available"
    assert error.extra["available_countries"] == ["JO", "KH", "SI", "US"]


# --- the phone, one open request, the daily limit -------------------------------------------------------------


@pytest.mark.parametrize("phone", [None, "", "+37490000777", "+374 90 000777"])
def test_the_verified_phone_may_be_given(embassy, phone):
    traveler = TravelerFactory(phone="+37490000777")
    assert create(traveler, phone=phone).status == Status.QUEUED


@pytest.mark.parametrize("phone", ["+37490000778", "+79161234567", "not a phone", "+0"])
def test_any_other_phone_is_phone_not_verified(embassy, phone):
    traveler = TravelerFactory(phone="+37490000777")
    error = error_of(lambda: create(traveler, phone=phone))
    assert (error.code, error.status_code, error.field) == ("phone_not_verified", 400, "phone")
    assert not CallbackRequest.objects.exists()


def test_a_second_open_request_is_a_conflict_naming_the_open_one(embassy, traveler, staff):
    first = create(traveler)
    error = error_of(lambda: create(traveler, topic=Topic.ACCIDENT))
    assert (error.code, error.status_code) == ("callback_already_open", 409)
    assert error.extra == {"open_request_id": first.pk}
    # in progress is still open
    callback_request_claim_next(staff=staff, mission=embassy)
    assert error_of(lambda: create(traveler)).extra == {"open_request_id": first.pk}


def test_a_new_request_is_allowed_once_the_open_one_is_closed(embassy, traveler):
    first = create(traveler)
    callback_request_cancel(traveler=traveler, request_id=first.pk)
    assert create(traveler).pk != first.pk


def test_at_most_three_requests_in_24_hours_then_429_with_retry_after(embassy, traveler):
    for hour in (0, 5, 10):
        with time_machine.travel(T0 + dt.timedelta(hours=hour), tick=False):
            request = create(traveler)
            callback_request_cancel(traveler=traveler, request_id=request.pk)
    with time_machine.travel(T0 + dt.timedelta(hours=12), tick=False):
        error = error_of(lambda: create(traveler))
    assert (error.code, error.status_code) == ("callback_limit_reached", 429)
    # the first request leaves the 24-hour window at T0 + 24h: 12 hours later
    assert error.headers["Retry-After"] == str(12 * 3600 + 1)
    assert error.extra["retry_after"] == 12 * 3600 + 1
    with time_machine.travel(T0 + dt.timedelta(hours=24, seconds=1), tick=False):
        assert create(traveler).status == Status.QUEUED


def test_the_limit_counts_per_traveler(embassy, traveler):
    for _ in range(3):
        callback_request_cancel(traveler=traveler, request_id=create(traveler).pk)
    assert create(TravelerFactory()).status == Status.QUEUED


@override_settings(CALLBACK_DAILY_LIMIT=1)
def test_the_limit_is_configurable(embassy, traveler):
    callback_request_cancel(traveler=traveler, request_id=create(traveler).pk)
    assert error_of(lambda: create(traveler)).code == "callback_limit_reached"


def test_an_open_request_is_reported_before_the_limit(embassy, traveler):
    for _ in range(2):
        callback_request_cancel(traveler=traveler, request_id=create(traveler).pk)
    open_one = create(traveler)
    assert error_of(lambda: create(traveler)).extra == {"open_request_id": open_one.pk}


# --- which queue ------------------------------------------------------------------------------------------------


def test_the_mission_serving_the_travelers_city_takes_the_request(embassy, consulate, traveler):
    assert create(traveler, city="  gyumri ").mission == consulate


def test_a_city_no_mission_serves_goes_to_the_embassy(embassy, consulate, traveler):
    assert create(traveler, city="Dilijan").mission == embassy


def test_without_a_city_the_current_trip_in_that_country_decides(embassy, consulate, traveler):
    TripFactory(traveler=traveler, leg__country=embassy.country, leg__cities=["Gyumri"])
    assert create(traveler).mission == consulate


def test_an_inactive_consulate_does_not_take_requests(embassy, consulate, traveler):
    consulate.is_active = False
    consulate.save()
    assert create(traveler, city="Gyumri").mission == embassy


# --- the claim: order and fairness ---------------------------------------------------------------------------


def queued(mission, minutes_ago, topic=Topic.OTHER, **kwargs):
    at = T0 - dt.timedelta(minutes=minutes_ago)
    return CallbackRequestFactory(mission=mission, country=mission.country, topic=topic, queued_at=at, **kwargs)


def claim_all(staff, mission):
    out = []
    while (request := callback_request_claim_next(staff=staff, mission=mission)) is not None:
        out.append(request.pk)
    return out


def test_urgent_topics_first_then_first_come_first_served(embassy, staff):
    old_other = queued(embassy, 50)
    accident = queued(embassy, 10, Topic.ACCIDENT)
    lost = queued(embassy, 40, Topic.LOST_DOCUMENTS)
    arrest = queued(embassy, 20, Topic.ARREST_DETENTION)
    victim = queued(embassy, 30, Topic.CRIME_VICTIM)
    medical = queued(embassy, 5, Topic.MEDICAL_EMERGENCY)
    with time_machine.travel(T0, tick=False):
        order = claim_all(staff, embassy)
    assert order == [arrest.pk, accident.pk, medical.pk, old_other.pk, lost.pk, victim.pk]


def test_same_queue_time_is_broken_by_id(embassy, staff):
    a, b = queued(embassy, 10), queued(embassy, 10)
    with time_machine.travel(T0, tick=False):
        assert claim_all(staff, embassy) == sorted([a.pk, b.pk])


def test_claim_marks_the_request_in_progress_by_that_staff_member(embassy, staff):
    request = queued(embassy, 10)
    with time_machine.travel(T0, tick=False):
        claimed = callback_request_claim_next(staff=staff, mission=embassy)
    request.refresh_from_db()
    assert claimed.pk == request.pk
    assert (request.status, request.claimed_by, request.claimed_at) == (Status.IN_PROGRESS, staff, T0)


def test_claim_takes_only_from_its_own_mission_queue(embassy, consulate, staff):
    queued(consulate, 30)
    mine = queued(embassy, 10)
    with time_machine.travel(T0, tick=False):
        assert claim_all(staff, embassy) == [mine.pk]


def test_claim_on_an_empty_queue_returns_none(embassy, staff):
    assert callback_request_claim_next(staff=staff, mission=embassy) is None


def test_staff_of_another_mission_cannot_claim(embassy, consulate):
    queued(embassy, 10)
    other = StaffUserFactory(missions=[consulate])
    error = error_of(lambda: callback_request_claim_next(staff=other, mission=embassy))
    assert (error.code, error.status_code) == ("not_mission_staff", 403)
    assert CallbackRequest.objects.get().status == Status.QUEUED


def test_superusers_claim_in_any_mission(embassy):
    queued(embassy, 10)
    chief = StaffUserFactory(is_superuser=True)
    with time_machine.travel(T0, tick=False):
        assert callback_request_claim_next(staff=chief, mission=embassy) is not None


def test_no_answer_requeues_after_the_delay_keeping_the_original_place(embassy, staff):
    first, second, third = queued(embassy, 30), queued(embassy, 20), queued(embassy, 10)
    with time_machine.travel(T0, tick=False):
        taken = callback_request_claim_next(staff=staff, mission=embassy)
        assert taken.pk == first.pk
        callback_attempt_record(request=taken, staff=staff, outcome=Outcome.NO_ANSWER, note="voicemail")
    first.refresh_from_db()
    assert first.status == Status.NO_ANSWER
    assert first.attempts == 1
    assert first.outcome == Outcome.NO_ANSWER
    assert first.queued_at == T0 - dt.timedelta(minutes=30)
    assert first.available_at == T0 + dt.timedelta(minutes=15)
    assert (first.claimed_by, first.claimed_at) == (None, None)

    # during the delay the others are served, in order
    with time_machine.travel(T0 + dt.timedelta(minutes=14), tick=False):
        assert callback_request_claim_next(staff=staff, mission=embassy).pk == second.pk
    # after the delay it is first again, ahead of the later third
    with time_machine.travel(T0 + dt.timedelta(minutes=15), tick=False):
        assert callback_request_claim_next(staff=staff, mission=embassy).pk == first.pk
        assert callback_request_claim_next(staff=staff, mission=embassy).pk == third.pk


def test_the_third_unanswered_call_closes_the_request_as_unreachable(embassy, staff):
    request = queued(embassy, 10)
    for n, outcome in enumerate([Outcome.NO_ANSWER, Outcome.BUSY, Outcome.NO_ANSWER]):
        with time_machine.travel(T0 + dt.timedelta(minutes=20 * n), tick=False):
            taken = callback_request_claim_next(staff=staff, mission=embassy)
            assert taken.pk == request.pk
            callback_attempt_record(request=taken, staff=staff, outcome=outcome)
    request.refresh_from_db()
    assert request.status == Status.UNREACHABLE
    assert request.attempts == 3
    assert request.closed_at == T0 + dt.timedelta(minutes=40)
    assert list(request.attempt_set.values_list("outcome", flat=True)) == ["no_answer", "busy", "no_answer"]
    with time_machine.travel(T0 + dt.timedelta(hours=2), tick=False):
        assert callback_request_claim_next(staff=staff, mission=embassy) is None


def test_completed_closes_and_records_who_when_and_how(embassy, staff):
    queued(embassy, 10)
    with time_machine.travel(T0, tick=False):
        taken = callback_request_claim_next(staff=staff, mission=embassy)
    with time_machine.travel(T0 + dt.timedelta(minutes=7), tick=False):
        attempt = callback_attempt_record(request=taken, staff=staff, outcome=Outcome.COMPLETED, note="Advised")
    taken.refresh_from_db()
    assert (taken.status, taken.closed_at, taken.attempts, taken.outcome) == (
        Status.COMPLETED,
        T0 + dt.timedelta(minutes=7),
        1,
        Outcome.COMPLETED,
    )
    assert (attempt.staff, attempt.started_at, attempt.ended_at, attempt.note) == (
        staff,
        T0,
        T0 + dt.timedelta(minutes=7),
        "Advised",
    )
    assert attempt.mission == embassy


def test_released_goes_back_at_once_and_is_not_counted(embassy, staff):
    request = queued(embassy, 10)
    with time_machine.travel(T0, tick=False):
        taken = callback_request_claim_next(staff=staff, mission=embassy)
        callback_attempt_record(request=taken, staff=staff, outcome=Outcome.RELEASED)
        request.refresh_from_db()
        assert (request.status, request.attempts, request.outcome) == (Status.QUEUED, 0, "")
        assert callback_request_claim_next(staff=staff, mission=embassy).pk == request.pk
    assert CallbackAttempt.objects.filter(outcome=Outcome.RELEASED).count() == 1


def test_outcome_on_a_request_not_in_progress_is_a_conflict(embassy, staff):
    request = queued(embassy, 10)
    error = error_of(lambda: callback_attempt_record(request=request, staff=staff, outcome=Outcome.COMPLETED))
    assert (error.code, error.status_code) == ("callback_not_in_progress", 409)


def test_only_the_claimer_records_the_outcome(embassy, staff):
    queued(embassy, 10)
    taken = callback_request_claim_next(staff=staff, mission=embassy)
    colleague = StaffUserFactory(missions=[embassy])
    error = error_of(lambda: callback_attempt_record(request=taken, staff=colleague, outcome=Outcome.COMPLETED))
    assert (error.code, error.status_code) == ("callback_claimed_by_other", 403)
    chief = StaffUserFactory(is_superuser=True)
    callback_attempt_record(request=taken, staff=chief, outcome=Outcome.COMPLETED)


def test_unknown_outcome_is_rejected(embassy, staff):
    queued(embassy, 10)
    taken = callback_request_claim_next(staff=staff, mission=embassy)
    assert error_of(lambda: callback_attempt_record(request=taken, staff=staff, outcome="x")).code == "invalid_outcome"


# --- cancel and expiry -----------------------------------------------------------------------------------------


def test_cancel_a_waiting_request_and_again(embassy, traveler):
    request = create(traveler)
    with time_machine.travel(T0, tick=False):
        cancelled = callback_request_cancel(traveler=traveler, request_id=request.pk)
    assert (cancelled.status, cancelled.closed_at) == (Status.CANCELLED, T0)
    assert callback_request_cancel(traveler=traveler, request_id=request.pk).closed_at == T0


def test_a_request_being_called_cannot_be_cancelled(embassy, traveler, staff):
    request = create(traveler)
    callback_request_claim_next(staff=staff, mission=embassy)
    error = error_of(lambda: callback_request_cancel(traveler=traveler, request_id=request.pk))
    assert (error.code, error.status_code, error.extra) == (
        "callback_not_cancellable",
        409,
        {"request_status": "in_progress"},
    )


def test_another_travelers_request_is_not_found(embassy, traveler):
    request = create(TravelerFactory())
    error = error_of(lambda: callback_request_cancel(traveler=traveler, request_id=request.pk))
    assert (error.code, error.status_code) == ("not_found", 404)
    assert CallbackRequest.objects.get().status == Status.QUEUED


def test_requests_waiting_longer_than_the_limit_expire(embassy, staff, settings):
    limit = settings.CALLBACK_EXPIRE_HOURS * 60
    old = queued(embassy, limit + 1)
    retried = queued(embassy, limit + 2, status=Status.NO_ANSWER, attempts=1)
    young = queued(embassy, limit - 1)
    being_called = queued(embassy, limit + 5, status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=T0)
    with time_machine.travel(T0, tick=False):
        assert callback_requests_expire_stale(batch_size=1) == 2
        assert callback_requests_expire_stale() == 0
    statuses = dict(CallbackRequest.objects.values_list("id", "status"))
    assert statuses == {
        old.pk: Status.EXPIRED,
        retried.pk: Status.EXPIRED,
        young.pk: Status.QUEUED,
        being_called.pk: Status.IN_PROGRESS,
    }
    assert CallbackRequest.objects.get(pk=old.pk).closed_at == T0


def test_a_claim_held_past_the_timeout_goes_back_to_its_place_as_a_released_attempt(embassy, staff, settings):
    limit = settings.CALLBACK_CLAIM_TIMEOUT_MINUTES
    held = dt.timedelta(minutes=limit + 1)
    first = queued(
        embassy, 30, status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=T0 - held, push_pending="in_progress"
    )
    retried = queued(embassy, 20, status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=T0 - held, attempts=1)
    fresh = queued(
        embassy, 10, status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=T0 - dt.timedelta(minutes=limit - 1)
    )
    later = queued(embassy, 5)
    with time_machine.travel(T0, tick=False):
        assert callback_claims_release_stale(batch_size=1) == 2
        assert callback_claims_release_stale() == 0  # safe to run twice
        rows = {r.pk: r for r in CallbackRequest.objects.all()}
        assert (rows[first.pk].status, rows[first.pk].claimed_by, rows[first.pk].push_pending) == (
            Status.QUEUED,
            None,
            "",
        )
        assert (rows[retried.pk].status, rows[retried.pk].attempts) == (Status.NO_ANSWER, 1)  # not counted as a call
        assert rows[fresh.pk].status == Status.IN_PROGRESS
        attempts = list(
            CallbackAttempt.objects.order_by("request_id").values_list(
                "request_id", "staff", "outcome", "started_at", "ended_at"
            )
        )
        assert attempts == [
            (first.pk, staff.pk, Outcome.RELEASED, T0 - held, T0),
            (retried.pk, staff.pk, Outcome.RELEASED, T0 - held, T0),
        ]
        # The staff member who held it comes back too late to record an outcome: told, nothing changed.
        late = error_of(lambda: callback_attempt_record(request=first, staff=staff, outcome=Outcome.COMPLETED))
        assert (late.code, CallbackRequest.objects.get(pk=first.pk).status) == (
            "callback_not_in_progress",
            Status.QUEUED,
        )
        # Back in their original places: taken again before the request queued after them.
        assert claim_all(staff, embassy) == [first.pk, retried.pk, later.pk]


def test_erasing_the_traveler_deletes_their_requests_and_calls(embassy, traveler, staff):
    create(traveler)
    taken = callback_request_claim_next(staff=staff, mission=embassy)
    callback_attempt_record(request=taken, staff=staff, outcome=Outcome.NO_ANSWER)
    traveler.delete()
    assert not CallbackRequest.objects.exists()
    assert not CallbackAttempt.objects.exists()
