"""The staff panel for countries and missions: scoping to the staff member's missions, and pack invalidation."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone, translation

from countries.models import Country, CountrySection, Mission, RegionalAdvisory, StaffMembership
from tests.factories.countries import MissionFactory

PACK = "/api/v1/countries/{}/"
ADMIN = "/admin/countries/"

pytestmark = pytest.mark.django_db


def panel(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(response) -> dict:
    """The POST body that re-submits an admin change form (and its inlines) as it was shown."""
    data: dict = {}

    def put(form, name):
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[form.add_prefix(name)] = "on"
        elif isinstance(value, list | tuple):
            data[form.add_prefix(name)] = [str(v) for v in value]
        else:
            data[form.add_prefix(name)] = "" if value is None else str(value)

    form = response.context["adminform"].form
    for name in form.fields:
        put(form, name)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            put(formset.management_form, name)
        for inline_form in formset.forms:
            for name in inline_form.fields:
                put(inline_form, name)
    return data


def shown(response) -> set:
    return {str(obj.pk) for obj in response.context["cl"].result_list}


def pack_etag(api_client, code: str) -> str:
    return api_client.get(PACK.format(code))["ETag"]


# --- Scoping


def test_staff_see_only_their_missions_country_and_mission(staff_am):
    client = panel(staff_am)
    assert shown(client.get(f"{ADMIN}country/")) == {"AM"}
    assert shown(client.get(f"{ADMIN}mission/")) == {str(Mission.objects.get(ref="am-yerevan-embassy").pk)}
    assert {str(a.country_id) for a in client.get(f"{ADMIN}regionaladvisory/").context["cl"].result_list} == {"AM"}
    memberships = client.get(f"{ADMIN}staffmembership/").context["cl"].result_list
    assert [m.mission.ref for m in memberships] == ["am-yerevan-embassy"]


def test_the_crisis_centre_sees_everything(reference_data, crisis_centre):
    client = panel(crisis_centre)
    assert len(shown(client.get(f"{ADMIN}country/"))) == 249
    assert len(shown(client.get(f"{ADMIN}mission/"))) == Mission.objects.count()


def test_staff_cannot_open_or_change_another_missions_country(staff_am):
    client = panel(staff_am)
    page = client.get(f"{ADMIN}country/TR/change/")
    assert page.status_code in (302, 403, 404)
    if page.status_code == 302:
        assert page["Location"] == "/admin/"
    tr = Country.objects.get(code="TR")
    client.post(f"{ADMIN}country/TR/change/", {"advisory_level": 4, "callbacks_enabled": "on"})
    tr.refresh_from_db()
    assert (tr.advisory_level, tr.callbacks_enabled) == (2, False)
    assert "Анкара" not in page.content.decode()
    assert "Ankara" not in page.content.decode()


def test_staff_cannot_open_or_change_another_mission_even_in_their_country(staff_am):
    gyumri = Mission.objects.get(ref="am-gyumri-consulate-general")
    client = panel(staff_am)
    page = client.get(f"{ADMIN}mission/{gyumri.pk}/change/")
    assert page.status_code in (302, 403, 404)
    assert "Gyumri" not in page.content.decode()
    client.post(f"{ADMIN}mission/{gyumri.pk}/change/", {"duty_phone": "+37499999999"})
    gyumri.refresh_from_db()
    assert gyumri.duty_phone == ""


def test_staff_cannot_add_or_delete_countries_and_missions(staff_am):
    client = panel(staff_am)
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    assert client.get(f"{ADMIN}country/add/").status_code == 403
    assert client.get(f"{ADMIN}mission/add/").status_code == 403
    assert client.post(f"{ADMIN}mission/{embassy.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"{ADMIN}country/AM/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{ADMIN}staffmembership/add/").status_code == 403
    assert Mission.objects.filter(pk=embassy.pk).exists()


def test_the_foreign_key_choices_offer_only_the_staff_members_countries(staff_am):
    response = panel(staff_am).get(f"{ADMIN}regionaladvisory/add/")
    choices = {str(value) for value, _label in response.context["adminform"].form.fields["country"].choices if value}
    assert choices == {"AM"}


def test_countries_are_found_by_their_russian_or_english_name(reference_data, crisis_centre):
    client = panel(crisis_centre)
    assert shown(client.get(f"{ADMIN}country/", {"q": "армен"})) == {"AM"}
    assert "KH" in shown(client.get(f"{ADMIN}country/", {"q": "Cambodia"}))
    assert shown(client.get(f"{ADMIN}country/", {"q": "Ереван"})) == {"AM"}


def test_the_mission_list_shows_whether_each_is_open_now(reference_data, crisis_centre):
    response = panel(crisis_centre).get(f"{ADMIN}mission/", {"country": "US"})
    assert response.status_code == 200
    assert {m.country_id for m in response.context["cl"].result_list} == {"US"}
    assert "column-open_now" in response.content.decode()


# --- Edits change the pack


def test_staff_editing_their_mission_changes_the_pack_and_its_etag(
    staff_am, api_client, django_capture_on_commit_callbacks
):
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    etag = pack_etag(api_client, "AM")
    client = panel(staff_am)
    data = form_data(client.get(f"{ADMIN}mission/{embassy.pk}/change/"))
    data["duty_phone"] = "+37491000000"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{ADMIN}mission/{embassy.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    pack = api_client.get(PACK.format("AM"), HTTP_IF_NONE_MATCH=etag)
    assert pack.status_code == 200
    assert pack.json()["missions"][0]["duty_phone"] == "+37491000000"


def test_staff_cannot_move_their_mission_or_change_its_kind(staff_am):
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    client = panel(staff_am)
    data = form_data(client.get(f"{ADMIN}mission/{embassy.pk}/change/"))
    assert "country" not in data
    assert "kind" not in data
    data |= {"country": "TR", "kind": "consulate"}
    client.post(f"{ADMIN}mission/{embassy.pk}/change/", data)
    embassy.refresh_from_db()
    assert (embassy.country_id, embassy.kind) == ("AM", "embassy")


def test_invalid_hours_are_refused_in_the_panel(staff_am):
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    client = panel(staff_am)
    data = form_data(client.get(f"{ADMIN}mission/{embassy.pk}/change/"))
    data["opening_hours"] = '{"mon": [["18:00", "09:00"]]}'
    data["time_zone"] = "Asia/Nowhere"
    response = client.post(f"{ADMIN}mission/{embassy.pk}/change/", data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "opening_hours" in errors
    assert "time_zone" in errors


def test_editing_a_section_inline_changes_the_pack(staff_am, api_client, django_capture_on_commit_callbacks):
    etag = pack_etag(api_client, "AM")
    client = panel(staff_am)
    data = form_data(client.get(f"{ADMIN}country/AM/change/"))
    money = next(key for key, value in data.items() if key.endswith("-kind") and value == "money")
    data[money.replace("-kind", "-body_en")] = "Cash in drams only this week."
    data["callbacks_enabled"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{ADMIN}country/AM/change/", data)
    assert response.status_code == 302
    assert CountrySection.objects.get(country="AM", kind="money").body_en == "Cash in drams only this week."
    english = api_client.get(PACK.format("AM"), HTTP_ACCEPT_LANGUAGE="en").json()
    assert next(s for s in english["sections"] if s["kind"] == "money")["body"] == "Cash in drams only this week."
    assert api_client.get(PACK.format("AM"), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_staff_may_switch_call_backs_of_their_country(staff_am, django_capture_on_commit_callbacks):
    client = panel(staff_am)
    data = form_data(client.get(f"{ADMIN}country/AM/change/"))
    data.pop("callbacks_enabled")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{ADMIN}country/AM/change/", data)
    assert Country.objects.get(code="AM").callbacks_enabled is False


def test_deleting_a_regional_advisory_changes_the_pack(
    reference_data, crisis_centre, api_client, django_capture_on_commit_callbacks
):
    region = RegionalAdvisory.objects.get(country="EG")
    etag = pack_etag(api_client, "EG")
    with django_capture_on_commit_callbacks(execute=True):
        response = panel(crisis_centre).post(f"{ADMIN}regionaladvisory/{region.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    pack = api_client.get(PACK.format("EG"), HTTP_IF_NONE_MATCH=etag)
    assert pack.status_code == 200
    assert pack.json()["advisory"]["regions"] == []


def test_bulk_deleting_missions_changes_their_countries_packs(
    reference_data, crisis_centre, api_client, django_capture_on_commit_callbacks
):
    etags = {code: pack_etag(api_client, code) for code in ("TH", "AE")}
    ids = list(
        Mission.objects.filter(ref__in=["th-phuket-consulate-general", "ae-dubai-consulate-general"]).values_list(
            "pk", flat=True
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        panel(crisis_centre).post(
            f"{ADMIN}mission/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
        )
    assert not Mission.objects.filter(pk__in=ids).exists()
    for code, etag in etags.items():
        assert api_client.get(PACK.format(code), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_moving_a_mission_to_another_country_changes_both_packs(
    reference_data, crisis_centre, api_client, django_capture_on_commit_callbacks
):
    mission = Mission.objects.get(ref="tr-antalya-consulate-general")
    etags = {code: pack_etag(api_client, code) for code in ("TR", "CN")}
    client = panel(crisis_centre)
    data = form_data(client.get(f"{ADMIN}mission/{mission.pk}/change/"))
    data["country"] = "CN"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{ADMIN}mission/{mission.pk}/change/", data).status_code == 302
    for code, etag in etags.items():
        assert api_client.get(PACK.format(code), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_the_crisis_centre_assigns_staff_to_missions_from_the_mission_page(
    reference_data, crisis_centre, django_capture_on_commit_callbacks
):
    from countries.services import staff_user_upsert

    newcomer = staff_user_upsert(username="new-diplomat", password="pw-new-1")
    gyumri = Mission.objects.get(ref="am-gyumri-consulate-general")
    client = panel(crisis_centre)
    data = form_data(client.get(f"{ADMIN}mission/{gyumri.pk}/change/"))
    prefix = next(key for key in data if key.endswith("-TOTAL_FORMS")).removesuffix("-TOTAL_FORMS")
    data |= {f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-0-user": str(newcomer.pk), f"{prefix}-0-mission": str(gyumri.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{ADMIN}mission/{gyumri.pk}/change/", data).status_code == 302
    assert StaffMembership.objects.filter(user=newcomer, mission=gyumri).exists()
    assert shown(panel(newcomer).get(f"{ADMIN}mission/")) == {str(gyumri.pk)}


def test_mark_reviewed_today_action(reference_data, crisis_centre, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = panel(crisis_centre).post(
            f"{ADMIN}country/", {"action": "mark_reviewed_today", "_selected_action": ["JO", "KH"]}, follow=True
        )
    assert response.status_code == 200
    today = timezone.localdate()
    assert set(Country.objects.filter(reviewed_at=today).values_list("code", flat=True)) >= {"JO", "KH"}
    assert Country.objects.get(code="US").reviewed_at == dt.date(2026, 11, 25)


# --- Labels: Russian by default, English on request


def test_the_panel_labels_are_russian_by_default(reference_data, crisis_centre):
    client = panel(crisis_centre)
    page = client.get(f"{ADMIN}country/AM/change/").content.decode()
    assert "Столица (на русском)" in page
    assert "Обратные звонки включены" in page
    assert "Capital" not in page
    assert "Callbacks enabled" not in page
    listing = client.get(f"{ADMIN}country/").content.decode()
    assert "Название страны" in listing
    assert "Страны и загранучреждения" in client.get("/admin/").content.decode()


def test_the_panel_labels_are_english_on_request(reference_data, crisis_centre):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(crisis_centre)
    page = client.get(f"{ADMIN}country/AM/change/").content.decode()
    assert "Capital (Russian)" in page
    assert "Call-backs enabled" in page
    assert "Country name" in client.get(f"{ADMIN}country/").content.decode()


def test_a_mission_is_named_in_the_active_language():
    mission = MissionFactory(name_ru="Посольство России в Армении", name_en="Embassy of Russia in Armenia")
    with translation.override("ru"):
        assert str(mission) == "Посольство России в Армении"
    with translation.override("en-gb"):
        assert str(mission) == "Embassy of Russia in Armenia"
