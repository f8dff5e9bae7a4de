"""The versioned reference data and its loader: complete, valid, idempotent, and kind to staff edits."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from django_countries import countries as iso_countries

from countries.models import Country, CountrySection, Mission, MissionKind, RegionalAdvisory, SectionKind
from countries.reference import DATA_DIR, ReferenceDataError, reference_data_load, reference_data_read

CONTENT = {"AM", "JO", "KH", "US", "SI", "TR", "EG", "TH", "AE", "CN"}
REQUIRED_MISSIONS = {
    "am-yerevan-embassy",
    "jo-amman-embassy",
    "kh-phnom-penh-embassy",
    "us-washington-embassy",
    "us-new-york-consulate-general",
    "us-houston-consulate-general",
    "si-ljubljana-embassy",
    "tr-ankara-embassy",
    "tr-istanbul-consulate-general",
    "tr-antalya-consulate-general",
    "eg-cairo-embassy",
    "eg-hurghada-consulate-general",
    "th-bangkok-embassy",
    "th-phuket-consulate-general",
    "ae-abu-dhabi-embassy",
    "ae-dubai-consulate-general",
    "cn-beijing-embassy",
    "cn-shanghai-consulate-general",
    "cn-guangzhou-consulate-general",
}
GYUMRI_ZONE = 'time_zone = "Asia/Yerevan"\nserves_regions = ["Shirak"'


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A private copy of the data directory that a test may edit, as a new version of the file would."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_data_covers_every_iso_country_with_calling_code_and_time_zones():
    data = reference_data_read()
    assert set(data.countries) == {code for code, _name in iso_countries}
    assert data.countries["AM"]["calling_code"] == "374"
    assert data.countries["US"]["calling_code"] == "1"
    assert "America/Chicago" in data.countries["US"]["time_zones"]
    without_zone = [code for code, entry in data.countries.items() if not entry["time_zones"]]
    assert without_zone == []


def test_content_countries_have_every_section_in_both_languages_and_an_advisory():
    data = reference_data_read()
    for code in CONTENT:
        entry = data.countries[code]
        assert set(entry["sections"]) == set(SectionKind.values), code
        for kind, section in entry["sections"].items():
            assert min(len(section["body_ru"]), len(section["body_en"])) > 150, (code, kind)
        assert entry["advisory_level"] in (1, 2, 3, 4)
        assert entry["advisory_summary_ru"]
        assert entry["advisory_summary_en"]
        assert entry["reviewed_at"]
        assert entry["emergency_police"]
        assert entry["emergency_ambulance"]
        assert entry["capital_ru"]
        assert entry["capital_en"]
        assert entry["currency"]


def test_callbacks_are_enabled_for_exactly_the_five_launch_countries(reference_data):
    assert set(Country.objects.filter(callbacks_enabled=True).values_list("code", flat=True)) == {
        "AM",
        "JO",
        "KH",
        "US",
        "SI",
    }


def test_the_missions_of_every_content_country_are_loaded(reference_data):
    refs = set(Mission.objects.values_list("ref", flat=True))
    assert refs >= REQUIRED_MISSIONS
    for code in CONTENT:
        assert Mission.objects.filter(country=code, kind=MissionKind.EMBASSY).count() == 1, code
    embassy = Mission.objects.get(ref="us-washington-embassy")
    assert embassy.time_zone == "America/New_York"
    assert embassy.opening_hours["mon"]
    assert embassy.phones[0].startswith("+1")
    assert Mission.objects.get(ref="us-houston-consulate-general").time_zone == "America/Chicago"


def test_a_second_load_changes_nothing(reference_data):
    counts = [model.objects.count() for model in (Country, CountrySection, RegionalAdvisory, Mission)]
    stamps = dict(Country.objects.values_list("code", "updated_at"))
    report = reference_data_load()
    assert report.unchanged
    assert [model.objects.count() for model in (Country, CountrySection, RegionalAdvisory, Mission)] == counts
    assert dict(Country.objects.values_list("code", "updated_at")) == stamps
    assert counts[0] == len(list(iso_countries))


def test_the_command_prints_what_it_did(db):
    out = StringIO()
    call_command("load_reference_data", stdout=out)
    assert "countries: 249 created" in out.getvalue()
    out = StringIO()
    call_command("load_reference_data", stdout=out)
    assert "countries: 0 created, 0 updated" in out.getvalue()
    assert "missions: 0 created, 0 updated" in out.getvalue()


def test_staff_edits_survive_a_reload_of_an_unchanged_file(reference_data):
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    embassy.duty_phone = "+37499000000"
    embassy.save()
    Country.objects.filter(code="TR").update(callbacks_enabled=True, advisory_level=3)
    CountrySection.objects.filter(country="AM", kind="money").update(body_en="Edited by staff.")

    assert reference_data_load().unchanged

    assert Mission.objects.get(ref="am-yerevan-embassy").duty_phone == "+37499000000"
    assert Country.objects.filter(code="TR", callbacks_enabled=True, advisory_level=3).exists()
    assert CountrySection.objects.get(country="AM", kind="money").body_en == "Edited by staff."


def test_a_new_file_version_updates_what_it_changed_and_keeps_other_staff_edits(reference_data, data_copy):
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    embassy.duty_phone = "+37499000000"
    embassy.save()
    before = {c.code: c.updated_at for c in Country.objects.filter(code__in=["AM", "JO"])}
    am = data_copy / "content" / "am.toml"
    edit(am, 'phones = ["+37410567427"]', 'phones = ["+37410567427", "+37410589497"]')
    edit(am, "Валюта — армянский драм (AMD).", "Валюта — армянский драм (AMD), 1 драм = 100 лум.")
    edit(am, "level = 1\n", "level = 2\n")

    report = reference_data_load(data=reference_data_read(data_copy))

    assert report.updated == {"countries": 1, "sections": 1, "missions": 1}
    embassy.refresh_from_db()
    assert embassy.phones == ["+37410567427", "+37410589497"]
    assert embassy.duty_phone == "+37499000000"  # the file did not change it: the staff value stays
    assert "100 лум" in CountrySection.objects.get(country="AM", kind="money").body_ru
    assert Country.objects.get(code="AM").advisory_level == 2
    after = {c.code: c.updated_at for c in Country.objects.filter(code__in=["AM", "JO"])}
    assert after["AM"] > before["AM"]  # delta sync sees Armenia
    assert after["JO"] == before["JO"]
    assert reference_data_load(data=reference_data_read(data_copy)).unchanged


def test_reset_applies_the_file_over_staff_edits(reference_data):
    Mission.objects.filter(ref="am-yerevan-embassy").update(duty_phone="+37499000000", name_en="Renamed")
    report = reference_data_load(reset=True)
    assert report.updated == {"missions": 1}
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    assert (embassy.duty_phone, embassy.name_en) == ("", "Embassy of Russia in Armenia")


def test_a_section_staff_deleted_stays_deleted_until_the_file_changes_it(reference_data, data_copy):
    CountrySection.objects.filter(country="KH", kind="transport").delete()
    assert reference_data_load().unchanged
    assert not CountrySection.objects.filter(country="KH", kind="transport").exists()
    edit(data_copy / "content" / "kh.toml", "Дорожное движение хаотичное", "Движение хаотичное")
    reference_data_load(data=reference_data_read(data_copy))
    assert CountrySection.objects.filter(country="KH", kind="transport").exists()


def test_the_loader_never_deletes_rows_missing_from_the_file(reference_data):
    from tests.factories.countries import MissionFactory

    staff_mission = MissionFactory(country=Country.objects.get(code="AM"), name_en="Honorary consulate")
    RegionalAdvisory.objects.create(country_id="AM", region_en="Lake Sevan", region_ru="Севан", level=2)
    assert reference_data_load().unchanged
    assert Mission.objects.filter(pk=staff_mission.pk).exists()
    assert RegionalAdvisory.objects.filter(region_en="Lake Sevan").exists()


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("content/am.toml", GYUMRI_ZONE, GYUMRI_ZONE.replace("Yerevan", "Atlantis"), "unknown time zone"),
        ("content/am.toml", 'kind = "laws"', 'kind = "weather"', "unknown section kind"),
        ("content/am.toml", 'ref = "am-gyumri-consulate-general"', 'ref = "am-yerevan-embassy"', "appears twice"),
        ("content/am.toml", 'ref = "am-gyumri-consulate-general"', 'ref = "jo-gyumri"', "must start with 'am-'"),
        ("content/jo.toml", 'sun = [["09:00", "16:00"]]', 'sun = [["16:00", "09:00"]]', "Invalid opening hours"),
        ("content/us.toml", 'phones = ["+12123480926"]', 'phones = ["212 348 0926"]', "international format"),
        ("content/si.toml", "level = 2\n", "level = 5\n", "advisory level must be 1-4"),
        ("content/th.toml", 'indicators = ["T", "U"]', 'indicators = ["X"]', "Indicator codes"),
    ],
)
def test_malformed_data_is_refused_with_the_file_named(data_copy, file, old, new, message):
    edit(data_copy / file, old, new)
    with translation.override("en"), pytest.raises(ReferenceDataError, match=message) as error:
        reference_data_read(data_copy)
    assert Path(file).name in str(error.value)


def test_the_command_refuses_malformed_data_without_loading_anything(db, data_copy):
    edit(data_copy / "content" / "am.toml", GYUMRI_ZONE, GYUMRI_ZONE.replace("Asia/Yerevan", "Nowhere"))
    with pytest.raises(CommandError, match="unknown time zone"):
        call_command("load_reference_data", data_dir=data_copy, stdout=StringIO())
    assert not Country.objects.exists()
