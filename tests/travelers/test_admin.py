"""Staff panel: scoping by mission country, filters on one leg, the crisis list, nothing secret shown."""

import csv
import datetime as dt
import io

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from tests.factories.callbacks import StaffUserFactory
from tests.factories.countries import MissionFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from travelers.admin import csv_cell
from travelers.models import AuthToken, OneTimeCode, Traveler

TODAY = timezone.localdate()


def on(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


def staff_of(country) -> Client:
    user = StaffUserFactory.create(missions=[MissionFactory(country=country)])
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_traveler", "view_trip", "view_device", "delete_traveler"])
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def people(countries):
    """Anna in Yerevan now, Boris in Gyumri later, Gleb in Georgia, Dina in Georgia then Armenia."""
    anna = TravelerFactory(
        full_name="Anna Yerevan", emergency_contact_name="Mother", emergency_contact_phone="+74951112233"
    )
    TripFactory(
        traveler=anna,
        start_date=on(-2),
        end_date=on(3),
        accommodation="Hotel Ani",
        leg__country="AM",
        leg__cities=["Yerevan"],
    )
    boris = TravelerFactory(full_name="Boris Gyumri")
    TripFactory(traveler=boris, start_date=on(5), end_date=on(9), leg__country="AM", leg__cities=["Gyumri"])
    gleb = TravelerFactory(full_name="Gleb Tbilisi")
    TripFactory(traveler=gleb, start_date=on(-1), end_date=on(4), leg__country="GE", leg__cities=["Tbilisi"])
    dina = TravelerFactory(full_name="Dina Both")
    TripFactory(traveler=dina, legs=[
        {"country": "GE", "cities": ["Yerevan"], "start_date": on(-3), "end_date": on(0)},  # a "Yerevan" in GE
        {"country": "AM", "cities": ["Gyumri"], "start_date": on(0), "end_date": on(6)},
    ])  # fmt: skip
    return {"anna": anna, "boris": boris, "gleb": gleb, "dina": dina}


def names(response) -> set[str]:
    return {t.full_name for t in response.context["cl"].result_list}


def test_staff_see_only_travelers_with_a_leg_in_their_country(people, countries):
    armenia = staff_of(countries["AM"])
    assert names(armenia.get("/admin/travelers/traveler/")) == {"Anna Yerevan", "Boris Gyumri", "Dina Both"}
    georgia = staff_of(countries["GE"])
    assert names(georgia.get("/admin/travelers/traveler/")) == {"Gleb Tbilisi", "Dina Both"}
    jordan = staff_of(countries["JO"])
    assert names(jordan.get("/admin/travelers/traveler/")) == set()
    # another mission's traveler is not found even by URL
    assert jordan.get(f"/admin/travelers/traveler/{people['anna'].pk}/change/").status_code == 302
    assert georgia.get(f"/admin/travelers/traveler/{people['anna'].pk}/change/").status_code == 302
    assert armenia.get(f"/admin/travelers/traveler/{people['anna'].pk}/change/").status_code == 200


def test_trips_and_devices_are_scoped_too(people, countries):
    DeviceFactory(traveler=people["anna"])
    DeviceFactory(traveler=None, subscriptions=["AM"])
    DeviceFactory(traveler=people["gleb"])
    armenia = staff_of(countries["AM"])
    trips = armenia.get("/admin/travelers/trip/").context["cl"].result_list
    assert {t.traveler.full_name for t in trips} == {"Anna Yerevan", "Boris Gyumri", "Dina Both"}
    devices = armenia.get("/admin/travelers/device/").context["cl"].result_list
    assert len(devices) == 2  # Anna's and the subscribed one


def test_superusers_see_all(people):
    user = get_user_model().objects.create_superuser("cc", "cc@example.org", "pw")
    client = Client()
    client.force_login(user)
    assert len(names(client.get("/admin/travelers/traveler/"))) == 4


def test_filters_describe_one_leg(people, countries):
    superuser = get_user_model().objects.create_superuser("cc", "cc@example.org", "pw")
    client = Client()
    client.force_login(superuser)
    url = "/admin/travelers/traveler/"
    assert names(client.get(url, {"country": "AM"})) == {"Anna Yerevan", "Boris Gyumri", "Dina Both"}
    assert names(client.get(url, {"country": "am", "city": "YEREVAN"})) == {"Anna Yerevan"}  # not Dina's GE Yerevan
    assert names(client.get(url, {"city": "yerevan"})) == {"Anna Yerevan", "Dina Both"}
    assert names(client.get(url, {"country": "AM", "on": TODAY.isoformat()})) == {"Anna Yerevan", "Dina Both"}
    assert names(client.get(url, {"country": "AM", "on": on(7).isoformat()})) == {"Boris Gyumri"}
    assert names(client.get(url, {"on": on(-3).isoformat()})) == {"Dina Both"}
    assert names(client.get(url, {"on": "not-a-date"})) == {"Anna Yerevan", "Boris Gyumri", "Gleb Tbilisi", "Dina Both"}
    trips = client.get("/admin/travelers/trip/", {"country": "GE", "city": "Tbilisi"}).context["cl"].result_list
    assert [t.traveler.full_name for t in trips] == ["Gleb Tbilisi"]


def test_changelist_renders_the_filters(people, countries):
    page = staff_of(countries["AM"]).get("/admin/travelers/traveler/", {"country": "AM"}).content.decode()
    assert 'name="city"' in page
    assert 'type="date"' in page
    assert 'value="AM"' in page  # the country is kept when another filter is applied


def crisis_csv(client, params, travelers) -> list[list[str]]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.post(
        f"/admin/travelers/traveler/?{query}",
        {"action": "export_crisis_list", "_selected_action": [str(t.pk) for t in travelers]},
    )
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_crisis_list_of_a_country_now(people, countries):
    client = staff_of(countries["AM"])
    rows = crisis_csv(client, {"country": "AM"}, Traveler.objects.all())
    assert rows[0][:6] == ["Phone", "Name", "Country", "Cities", "From", "To"]
    by_name = {row[1]: row for row in rows[1:]}
    assert set(by_name) == {"Anna Yerevan", "Dina Both"}  # Boris arrives later
    anna = by_name["Anna Yerevan"]
    assert anna == [str(people["anna"].phone), "Anna Yerevan", "AM", "Yerevan", on(-2).isoformat(), on(3).isoformat(),
                    "Hotel Ani", "", "Mother", "+74951112233", "", "ru"]  # fmt: skip


def test_crisis_list_of_a_city_on_a_day(people, countries):
    client = staff_of(countries["AM"])
    rows = crisis_csv(client, {"country": "AM", "city": "gyumri", "on": on(6).isoformat()}, Traveler.objects.all())
    assert {row[1] for row in rows[1:]} == {"Boris Gyumri", "Dina Both"}


def test_crisis_list_needs_a_country_of_ones_missions(people, countries):
    client = staff_of(countries["AM"])
    response = client.post(
        "/admin/travelers/traveler/",
        {"action": "export_crisis_list", "_selected_action": [str(people["anna"].pk)]},
        follow=True,
    )
    assert "Choose a country" in response.content.decode()
    response = client.post(
        "/admin/travelers/traveler/?country=GE",
        {"action": "export_crisis_list", "_selected_action": [str(people["dina"].pk)]},
        follow=True,
    )
    assert "do not cover" in response.content.decode()


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("+37410123456", "+37410123456"), ("+1+1", "'+1+1"), ("Hotel", "Hotel"),
     ([{"name": "Olga", "relation": "wife"}, {"name": "Ivan"}], "Olga (wife); Ivan"), (None, "")],
)  # fmt: skip
def test_csv_cells_are_not_formulas(value, cell):
    assert csv_cell(value) == cell


def test_panel_is_read_only_and_shows_no_secrets(people, countries):
    DeviceFactory(traveler=people["anna"], token="super-secret-push-token-123456")
    client = staff_of(countries["AM"])
    page = client.get(f"/admin/travelers/traveler/{people['anna'].pk}/change/").content.decode()
    assert "Hotel Ani" in page
    assert 'name="_save"' not in page
    device_page = client.get("/admin/travelers/device/").content.decode()
    assert "super-secret-push-token" not in device_page
    assert "…123456" in device_page
    assert OneTimeCode not in admin.site._registry
    assert AuthToken not in admin.site._registry
    assert client.get("/admin/travelers/traveler/add/").status_code == 403


def test_only_superusers_erase_and_erasure_goes_through_the_service(people, countries):
    staff = staff_of(countries["AM"])
    assert staff.post(f"/admin/travelers/traveler/{people['anna'].pk}/delete/", {"post": "yes"}).status_code == 403
    superuser = get_user_model().objects.create_superuser("cc", "cc@example.org", "pw")
    client = Client()
    client.force_login(superuser)
    response = client.post(f"/admin/travelers/traveler/{people['anna'].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Traveler.objects.filter(pk=people["anna"].pk).exists()


def test_changelist_query_count_does_not_grow_with_rows(countries, django_assert_max_num_queries):
    superuser = get_user_model().objects.create_superuser("cc", "cc@example.org", "pw")
    client = Client()
    client.force_login(superuser)
    for _ in range(30):
        TripFactory(leg__country="AM")
    with django_assert_max_num_queries(12):
        client.get("/admin/travelers/trip/")
