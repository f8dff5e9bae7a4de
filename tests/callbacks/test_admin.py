"""The staff panel: scoped queues, "Take next", outcome buttons, waiting colours."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import translation

from callbacks.models import CallbackAttempt, CallbackRequest, Status, Topic
from tests.factories.callbacks import CallbackRequestFactory, StaffUserFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/callbacks/callbackrequest/"
NOW = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)


def panel(user) -> Client:
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="callbacks", codename__in=["view_callbackrequest", "change_callbackrequest"]
        )
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # assertions read the English texts
    client.force_login(user)
    return client


def queued(mission, minutes_ago, topic=Topic.OTHER, **kwargs):
    at = NOW - dt.timedelta(minutes=minutes_ago)
    return CallbackRequestFactory(mission=mission, country=mission.country, topic=topic, queued_at=at, **kwargs)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_staff_see_only_their_missions_queues(embassy, consulate, staff, frozen):
    mine = queued(embassy, 5)
    theirs = queued(consulate, 5)
    response = panel(staff).get(LIST)
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == {mine.pk}
    assert str(mine.traveler.phone) in response.content.decode()
    assert str(theirs.traveler.phone) not in response.content.decode()
    assert [q["mission"] for q in response.context["queues"]] == [embassy]


def test_staff_cannot_open_another_missions_request(embassy, consulate, staff, frozen):
    theirs = queued(consulate, 5)
    response = panel(staff).get(f"{LIST}{theirs.pk}/change/")
    assert response.status_code == 302
    assert "/change/" not in response["Location"]


def test_the_request_page_shows_the_phone_to_call_and_saves_nothing(embassy, staff, frozen):
    request = queued(embassy, 5, message="Lost passport in Gyumri")
    client = panel(staff)
    page = client.get(f"{LIST}{request.pk}/change/").content.decode()
    assert f'href="tel:{request.traveler.phone}"' in page
    assert "Lost passport in Gyumri" in page
    assert 'name="_save"' not in page
    client.post(f"{LIST}{request.pk}/change/", {"status": "completed", "attempts": 3})
    request.refresh_from_db()
    assert (request.status, request.attempts) == (Status.QUEUED, 0)


def test_no_adding_or_deleting_requests(embassy, staff, frozen):
    request = queued(embassy, 5)
    client = panel(staff)
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{request.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CallbackRequest.objects.filter(pk=request.pk).exists()


def test_take_next_claims_the_first_in_order_and_opens_it(embassy, staff, frozen):
    queued(embassy, 30)
    arrest = queued(embassy, 1, Topic.ARREST_DETENTION)
    response = panel(staff).post(f"{LIST}take-next/{embassy.pk}/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{arrest.pk}/change/")
    arrest.refresh_from_db()
    assert (arrest.status, arrest.claimed_by) == (Status.IN_PROGRESS, staff)


def test_take_next_on_an_empty_queue_says_so(embassy, staff, frozen):
    response = panel(staff).post(f"{LIST}take-next/{embassy.pk}/", follow=True)
    assert any("Nobody is waiting" in m for m in messages_of(response))


def test_take_next_is_post_only(embassy, staff, frozen):
    queued(embassy, 5)
    assert panel(staff).get(f"{LIST}take-next/{embassy.pk}/").status_code == 405
    assert CallbackRequest.objects.get().status == Status.QUEUED


def test_staff_of_another_mission_cannot_take_from_its_queue(embassy, consulate, staff, frozen):
    theirs = queued(consulate, 5)
    response = panel(staff).post(f"{LIST}take-next/{consulate.pk}/", follow=True)
    assert any("do not work for this mission" in m for m in messages_of(response))
    theirs.refresh_from_db()
    assert theirs.status == Status.QUEUED


def test_outcome_buttons_record_the_call(embassy, staff, frozen):
    request = queued(embassy, 5)
    client = panel(staff)
    client.post(f"{LIST}take-next/{embassy.pk}/")
    page = client.get(f"{LIST}{request.pk}/change/").content.decode()
    assert 'name="outcome" value="no_answer"' in page
    response = client.post(f"{LIST}{request.pk}/outcome/", {"outcome": "no_answer", "note": "rang 10 times"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.attempts) == (Status.NO_ANSWER, 1)
    attempt = CallbackAttempt.objects.get()
    assert (attempt.staff, attempt.outcome, attempt.note) == (staff, "no_answer", "rang 10 times")


def test_outcome_buttons_only_for_the_staff_member_calling(embassy, staff, frozen):
    request = queued(embassy, 5)
    panel(staff).post(f"{LIST}take-next/{embassy.pk}/")
    colleague = panel(StaffUserFactory(missions=[embassy]))
    assert 'name="outcome"' not in colleague.get(f"{LIST}{request.pk}/change/").content.decode()
    response = colleague.post(f"{LIST}{request.pk}/outcome/", {"outcome": "completed"}, follow=True)
    assert any("Another staff member" in m for m in messages_of(response))
    request.refresh_from_db()
    assert request.status == Status.IN_PROGRESS


def test_outcome_on_another_missions_request_is_not_found(embassy, consulate, staff, frozen):
    other_staff = StaffUserFactory(missions=[consulate])
    theirs = queued(consulate, 5)
    panel(other_staff).post(f"{LIST}take-next/{consulate.pk}/")
    response = panel(staff).post(f"{LIST}{theirs.pk}/outcome/", {"outcome": "completed"})
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.status == Status.IN_PROGRESS


def test_waiting_time_turns_amber_then_red(embassy, staff, frozen):
    fresh, amber, red = queued(embassy, 14), queued(embassy, 15), queued(embassy, 30)
    response = panel(staff).get(LIST)
    page = response.content.decode()
    assert page.count("cb-amber") == 1
    assert page.count("cb-red") == 1
    admin = response.context["cl"].model_admin
    assert "cb-" not in admin.waiting(fresh)
    assert "cb-amber" in admin.waiting(amber)
    assert "cb-red" in admin.waiting(red)


def test_open_requests_by_default_urgent_first(embassy, staff, frozen):
    done = queued(embassy, 60, status=Status.COMPLETED, closed_at=NOW)
    old = queued(embassy, 50)
    urgent = queued(embassy, 1, Topic.MEDICAL_EMERGENCY)
    client = panel(staff)
    assert [r.pk for r in client.get(LIST).context["cl"].result_list] == [urgent.pk, old.pk]
    assert [r.pk for r in client.get(LIST, {"queue": "closed"}).context["cl"].result_list] == [done.pk]
    assert len(client.get(LIST, {"queue": "all"}).context["cl"].result_list) == 3
    for params in ({"status": "queued"}, {"topic": "other"}, {"urgent": "1"}, {"mission__id__exact": embassy.pk}):
        assert client.get(LIST, params).status_code == 200


def test_superusers_see_every_queue_with_waiting_requests(embassy, consulate, frozen):
    queued(embassy, 5)
    queued(consulate, 5)
    chief = StaffUserFactory(is_superuser=True)
    response = panel(chief).get(LIST)
    assert {q["mission"] for q in response.context["queues"]} == {embassy, consulate}
    assert len(response.context["cl"].result_list) == 2


def test_a_request_in_its_retry_delay_shows_when_to_call_again_in_mission_time(embassy, staff, frozen):
    retry = queued(embassy, 20, status=Status.NO_ANSWER, attempts=1, available_at=NOW + dt.timedelta(minutes=10))
    admin = panel(staff).get(LIST).context["cl"].model_admin
    with translation.override("en"):
        assert "call again after 12:10" in admin.waiting(retry)  # 08:10 UTC is 12:10 in Yerevan


@pytest.mark.parametrize(
    ("waiting", "text"), [(1, "1 заявка ожидает"), (3, "3 заявки ожидают"), (5, "5 заявок ожидают")]
)
def test_the_queue_counts_speak_russian_with_its_plural_forms(embassy, staff, frozen, waiting, text):
    for minutes in range(waiting):
        queued(embassy, minutes)
    client = panel(staff)
    client.defaults.pop("HTTP_ACCEPT_LANGUAGE")  # the staff panel's default language: Russian
    page = client.get(LIST).content.decode()
    assert text in page
    assert "Посольство России в Армении" in page  # the mission is named in the active language
    assert "Заявки на обратный звонок" in page
    assert "being called" not in page


def test_the_queue_counts_in_english(embassy, staff, frozen):
    queued(embassy, 1)
    page = panel(staff).get(LIST).content.decode()
    assert "1 request waiting (0 urgent), 0 being called" in page
    queued(embassy, 2)
    assert "2 requests waiting (0 urgent), 0 being called" in panel(staff).get(LIST).content.decode()
