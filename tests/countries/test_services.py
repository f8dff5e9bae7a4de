"""The pack cache (generation, TTL, ETag stability), contributors, invalidation, and staff accounts."""

import datetime as dt
import threading

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection, transaction

from countries import services
from countries.models import Country, Mission
from countries.services import (
    MISSION_STAFF_GROUP,
    countries_mark_reviewed,
    country_pack_get,
    country_pack_invalidate,
    mission_staff_group_ensure,
    pack_cache_key,
    pack_contributor_register,
    staff_user_upsert,
)
from tests.factories.countries import CountryFactory, MissionFactory

# Monday 23 November 2026, 12:59 in Yerevan: the embassy closes for lunch in one minute.
BEFORE_LUNCH = dt.datetime(2026, 11, 23, 8, 59, tzinfo=dt.UTC)


def redis_ttl(key: str) -> int:
    client = cache._cache.get_client(key)  # type: ignore[attr-defined]  # Django's RedisCache internals
    return client.ttl(cache.make_and_validate_key(key))


@pytest.mark.django_db
def test_rebuilding_unchanged_content_keeps_the_etag(reference_data):
    first = country_pack_get(code="KH", language="ru")
    cache.clear()
    again = country_pack_get(code="KH", language="ru")
    assert again.etag == first.etag
    assert again.body == first.body


@pytest.mark.django_db
@time_machine.travel(BEFORE_LUNCH, tick=False)
def test_the_cache_expires_when_a_mission_next_opens_or_closes(reference_data, no_pack_contributors):
    country_pack_get(code="AM", language="ru")
    assert 55 <= redis_ttl(pack_cache_key("AM", "ru")) <= 60


@pytest.mark.django_db
def test_without_mission_hours_the_cache_lasts_the_configured_maximum(reference_data, settings, no_pack_contributors):
    settings.COUNTRY_PACK_CACHE_SECONDS = 600
    country_pack_get(code="FR", language="en")
    assert 595 <= redis_ttl(pack_cache_key("FR", "en")) <= 600


@pytest.mark.django_db
def test_invalidation_takes_effect_when_the_edit_commits(reference_data, django_capture_on_commit_callbacks):
    old = country_pack_get(code="SI", language="ru")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Mission.objects.filter(ref="si-ljubljana-embassy").update(duty_phone="+38641000000")
        country_pack_invalidate(code="SI")
        assert country_pack_get(code="SI", language="ru") == old  # not committed yet: the cached pack stands
    for callback in callbacks:
        callback()
    new = country_pack_get(code="SI", language="ru")
    assert new.etag != old.etag
    assert b"+38641000000" in new.body


@pytest.mark.django_db(transaction=True)
def test_a_pack_built_from_data_older_than_the_edit_is_not_served_after_it(monkeypatch):
    """The race: a reader reads the database before an edit commits and stores its pack after the commit.

    The reader's pack carries the generation it saw, older than the one the commit set, so it is ignored.
    """
    mission = MissionFactory(country=CountryFactory(code="AM"), duty_phone="+37410000001")
    read_done, committed = threading.Event(), threading.Event()
    real_read = services.country_for_pack

    def read_then_stall(*, code):
        country = real_read(code=code)  # evaluated with its prefetches: the pre-commit data
        read_done.set()
        committed.wait(10)
        return country

    built_by_reader = {}

    def reader():
        try:
            built_by_reader["pack"] = country_pack_get(code="AM", language="ru")
        finally:
            connection.close()

    monkeypatch.setattr(services, "country_for_pack", read_then_stall)
    thread = threading.Thread(target=reader)
    with transaction.atomic():
        Mission.objects.filter(pk=mission.pk).update(duty_phone="+37410000002")
        country_pack_invalidate(code="AM")
        thread.start()
        assert read_done.wait(10)
    committed.set()  # the edit is committed and the generation bumped; now the reader stores its pack
    thread.join(10)
    monkeypatch.setattr(services, "country_for_pack", real_read)

    assert b"+37410000001" in built_by_reader["pack"].body  # the reader built from the older data
    served = country_pack_get(code="AM", language="ru")
    assert b"+37410000002" in served.body


@pytest.mark.django_db
def test_invalidation_moves_updated_at_for_delta_sync(reference_data):
    before = Country.objects.get(code="CN").updated_at
    country_pack_invalidate(code="cn")
    assert Country.objects.get(code="CN").updated_at > before


@pytest.mark.django_db
def test_contributors_add_top_level_keys_in_the_requested_language(reference_data, no_pack_contributors):
    calls = []

    def alerts(code: str, language: str) -> dict:
        calls.append((code, language))
        return {"alerts": [{"title": f"alert in {code} ({language})"}]}

    pack_contributor_register(alerts)
    pack_contributor_register(alerts)  # registering twice (ready() may run twice) adds it once
    body = country_pack_get(code="jo", language="en").body
    assert b'"alerts":[{"title":"alert in JO (en)"}]' in body
    assert calls == [("JO", "en")]


@pytest.mark.django_db
def test_a_contributor_may_not_override_the_pack(reference_data, no_pack_contributors):
    pack_contributor_register(lambda code, language: {"missions": []})
    with pytest.raises(RuntimeError, match="overrides pack keys"):
        country_pack_get(code="AM", language="ru")


@pytest.mark.django_db
def test_marking_advisories_reviewed_changes_their_packs(reference_data, django_capture_on_commit_callbacks):
    old = country_pack_get(code="TR", language="ru")
    with django_capture_on_commit_callbacks(execute=True):
        assert countries_mark_reviewed(codes=["tr", "EG"], on=dt.date(2026, 12, 1)) == 2
    assert Country.objects.get(code="TR").reviewed_at == dt.date(2026, 12, 1)
    assert b'"reviewed_at":"2026-12-01"' in country_pack_get(code="TR", language="ru").body
    assert country_pack_get(code="TR", language="ru").etag != old.etag


@pytest.mark.django_db
def test_the_mission_staff_group_can_edit_their_country_and_mission_but_not_add_or_delete_them():
    group = mission_staff_group_ensure()
    assert mission_staff_group_ensure() == group
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"change_country", "change_mission", "change_countrysection", "add_regionaladvisory"} <= codenames
    assert not {"add_country", "delete_country", "add_mission", "delete_mission", "add_staffmembership"} & codenames


@pytest.mark.django_db
def test_staff_logins_are_upserted_with_a_fresh_password(reference_data):
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    user = staff_user_upsert(username="staff-am", password="first-password-1", missions=[embassy])
    again = staff_user_upsert(username="staff-am", password="second-password-2", missions=[embassy])
    assert again.pk == user.pk
    assert again.check_password("second-password-2")
    assert not again.check_password("first-password-1")
    assert list(again.mission_memberships.values_list("mission__ref", flat=True)) == ["am-yerevan-embassy"]
    assert again.groups.filter(name=MISSION_STAFF_GROUP).exists()
    assert (again.is_staff, again.is_superuser) == (True, False)
    boss = staff_user_upsert(username="crisis-centre", password="third-password-3", superuser=True)
    assert (boss.is_superuser, boss.mission_memberships.count()) == (True, 0)
    assert Group.objects.filter(name=MISSION_STAFF_GROUP).count() == 1
