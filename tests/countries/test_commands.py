"""`manage.py create_demo_staff`: two working logins, fresh passwords each run, no duplicates."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from countries.models import StaffMembership

pytestmark = pytest.mark.django_db


def run() -> dict[str, str]:
    out = StringIO()
    call_command("create_demo_staff", stdout=out)
    return dict(re.findall(r"^\s+(\S+) / (\S+)", out.getvalue(), re.MULTILINE))


def test_it_prints_two_logins_that_work(reference_data):
    logins = run()
    assert set(logins) == {"crisis-centre", "staff-am"}
    for username, password in logins.items():
        client = Client()
        assert client.login(username=username, password=password)
        assert client.get("/admin/countries/country/").status_code == 200
    staff_view = Client()
    staff_view.login(username="staff-am", password=logins["staff-am"])
    assert [c.pk for c in staff_view.get("/admin/countries/country/").context["cl"].result_list] == ["AM"]


def test_running_it_again_resets_the_passwords_without_duplicates(reference_data):
    first, second = run(), run()
    assert first["staff-am"] != second["staff-am"]
    assert get_user_model().objects.filter(username__in=["crisis-centre", "staff-am"]).count() == 2
    assert StaffMembership.objects.filter(user__username="staff-am").count() == 1
    assert not Client().login(username="staff-am", password=first["staff-am"])


def test_it_needs_the_reference_data_first(db):
    with pytest.raises(CommandError, match="load_reference_data"):
        call_command("create_demo_staff", stdout=StringIO())
