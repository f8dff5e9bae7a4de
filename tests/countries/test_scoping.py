"""Staff scoping in one place: the one guard (403 `not_mission_staff`) and the apps that register as scoped."""

import pytest

from core.errors import ForbiddenError
from countries.scoping import require_mission_staff
from countries.services import STAFF_SCOPED_APPS, mission_staff_group_ensure
from tests.factories.countries import CountryFactory, MissionFactory, StaffUserFactory


@pytest.mark.django_db
def test_staff_act_only_for_their_missions_and_their_countries():
    am, ge = CountryFactory(code="AM"), CountryFactory(code="GE")
    embassy, tbilisi = MissionFactory(country=am), MissionFactory(country=ge)
    staff = StaffUserFactory(missions=[embassy])
    require_mission_staff(user=staff, mission=embassy)
    require_mission_staff(user=staff, country=am)
    require_mission_staff(user=staff, country="AM")
    for kwargs in ({"mission": tbilisi}, {"country": ge}, {"country": "GE"}):
        with pytest.raises(ForbiddenError) as info:
            require_mission_staff(user=staff, **kwargs)
        assert (info.value.code, info.value.status_code, info.value.field) == ("not_mission_staff", 403, None)
    boss = StaffUserFactory(is_superuser=True)
    require_mission_staff(user=boss, mission=tbilisi)
    require_mission_staff(user=boss, country="GE")


def test_the_dependent_apps_register_themselves_as_staff_scoped():
    """countries names none of them; their AppConfig.ready() does."""
    assert set(STAFF_SCOPED_APPS) == {"travelers", "alerts", "callbacks"}


@pytest.mark.django_db
def test_mission_staff_may_view_add_change_but_not_delete_in_the_scoped_apps():
    codenames = set(mission_staff_group_ensure().permissions.values_list("codename", flat=True))
    assert {"add_alert", "change_alert", "view_callbackrequest", "change_callbackrequest", "view_traveler"} <= codenames
    assert not {"delete_alert", "delete_callbackrequest", "delete_traveler"} & codenames
