"""The versioned reference data (countries/data/) and its idempotent loader.

`countries.json` lists every ISO 3166-1 country with its calling code, currency and time zones;
`content/<cc>.toml` adds, for the countries with content, the capital, the advisory, regional advisories,
the six content sections, emergency numbers, call-backs and the Russian missions (matched by a stable `ref`).

The loader is a three-way merge. Each country and mission row keeps a snapshot of its entry as last loaded.
On a reload, a field takes the file's value only if the file changed that field since the snapshot (or the
row is new, or `reset=True`); a field the file did not change keeps whatever staff set in the panel. So
re-running with an unchanged file writes nothing, and a new file version updates exactly what it changed.
The loader never deletes: rows missing from the file (staff-added missions, sections, regions) stay.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from countries.models import (
    Country,
    CountrySection,
    Mission,
    MissionKind,
    RegionalAdvisory,
    SectionKind,
    validate_e164,
    validate_indicators,
    validate_opening_hours,
    validate_phone_list,
)
from countries.services import country_packs_invalidate

DATA_DIR = Path(__file__).resolve().parent / "data"

SECTION_TITLES = {
    SectionKind.ENTRY: ("Въезд и визы", "Entry and visas"),
    SectionKind.SAFETY: ("Безопасность", "Safety and security"),
    SectionKind.HEALTH: ("Здоровье", "Health"),
    SectionKind.LAWS: ("Законы и обычаи", "Local laws and customs"),
    SectionKind.MONEY: ("Деньги", "Money"),
    SectionKind.TRANSPORT: ("Транспорт", "Transport"),
}
COUNTRY_CONTENT_FIELDS = ("capital_ru", "capital_en", "callbacks_enabled", "reviewed_at")
MISSION_FIELDS = (
    "kind",
    "name_ru",
    "name_en",
    "city_ru",
    "city_en",
    "address_ru",
    "address_en",
    "latitude",
    "longitude",
    "phones",
    "duty_phone",
    "email",
    "website",
    "time_zone",
    "opening_hours",
    "serves_regions",
)
DATE_FIELDS = {"reviewed_at"}


class ReferenceDataError(ValueError):
    """The data files are malformed; the message names the file and the entry."""


@dataclass
class ReferenceData:
    version: str
    # code -> flat entry of Country fields + "sections" {kind: {...}} + "regional_advisories" {region_en: {...}}
    countries: dict[str, dict[str, Any]]
    # ref -> flat entry of Mission fields + "country"
    missions: dict[str, dict[str, Any]]


@dataclass
class LoadReport:
    version: str
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    changed_countries: set[str] = field(default_factory=set)

    def count(self, kind: str, *, created: bool) -> None:
        target = self.created if created else self.updated
        target[kind] = target.get(kind, 0) + 1

    @property
    def unchanged(self) -> bool:
        return not self.created and not self.updated

    def summary(self) -> str:
        kinds = ("countries", "sections", "regional advisories", "missions")
        parts = [f"{k}: {self.created.get(k, 0)} created, {self.updated.get(k, 0)} updated" for k in kinds]
        return f"Reference data {self.version}: " + "; ".join(parts) + "."


# ---------------------------------------------------------------------------------------------------------
# Reading and validating the files


def _json_value(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists: the form stored in snapshots and compared on reload."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _check(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ReferenceDataError(f"{where}: {message}")


def _validate(validator, value: Any, where: str) -> None:
    try:
        validator(value)
    except ValidationError as exc:
        raise ReferenceDataError(f"{where}: {'; '.join(exc.messages)}") from exc


def _country_content(doc: dict[str, Any], where: str) -> dict[str, Any]:
    entry: dict[str, Any] = {name: doc[name] for name in COUNTRY_CONTENT_FIELDS if name in doc}
    advisory = doc.get("advisory")
    if advisory is not None:
        level = advisory.get("level")
        _check(level in (1, 2, 3, 4), where, f"advisory level must be 1-4, not {level!r}")
        _validate(validate_indicators, advisory.get("indicators", []), f"{where} advisory")
        entry |= {
            "advisory_level": level,
            "advisory_summary_ru": advisory.get("summary_ru", "").strip(),
            "advisory_summary_en": advisory.get("summary_en", "").strip(),
            "advisory_indicators": advisory.get("indicators", []),
        }
    for kind in ("police", "ambulance", "fire", "single"):
        if kind in doc.get("emergency", {}):
            entry[f"emergency_{kind}"] = str(doc["emergency"][kind])

    sections: dict[str, dict[str, Any]] = {}
    for section in doc.get("sections", []):
        kind = section.get("kind")
        _check(kind in SectionKind.values, where, f"unknown section kind {kind!r}")
        _check(kind not in sections, where, f"section {kind!r} appears twice")
        title_ru, title_en = SECTION_TITLES[kind]
        sections[kind] = {
            "title_ru": section.get("title_ru", title_ru),
            "title_en": section.get("title_en", title_en),
            "body_ru": section["body_ru"].strip(),
            "body_en": section["body_en"].strip(),
            "reviewed_at": section.get("reviewed_at", doc.get("reviewed_at")),
        }
    regions: dict[str, dict[str, Any]] = {}
    for region in doc.get("regional_advisories", []):
        name = region.get("region_en", "")
        _check(bool(name) and name not in regions, where, f"regional advisory {name!r} missing or repeated")
        _check(region.get("level") in (1, 2, 3, 4), where, f"regional advisory {name!r}: level must be 1-4")
        _validate(validate_indicators, region.get("indicators", []), f"{where} regional advisory {name!r}")
        regions[name] = {
            "region_ru": region["region_ru"],
            "level": region["level"],
            "summary_ru": region.get("summary_ru", "").strip(),
            "summary_en": region.get("summary_en", "").strip(),
            "indicators": region.get("indicators", []),
            "reviewed_at": region.get("reviewed_at", doc.get("reviewed_at")),
        }
    entry["sections"] = sections
    entry["regional_advisories"] = regions
    return entry


def _mission(raw: dict[str, Any], code: str, where: str) -> dict[str, Any]:
    ref = raw.get("ref", "")
    where = f"{where} mission {ref!r}"
    _check(bool(ref) and ref.startswith(code.lower() + "-"), where, f"ref must start with '{code.lower()}-'")
    missing = [name for name in MISSION_FIELDS if name not in raw]
    _check(not missing, where, f"missing fields {missing}")
    _check(raw["kind"] in MissionKind.values, where, f"unknown kind {raw['kind']!r}")
    _check(-90 <= raw["latitude"] <= 90 and -180 <= raw["longitude"] <= 180, where, "coordinates out of range")
    try:
        ZoneInfo(raw["time_zone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReferenceDataError(f"{where}: unknown time zone {raw['time_zone']!r}") from exc
    _validate(validate_opening_hours, raw["opening_hours"], where)
    _validate(validate_phone_list, raw["phones"], where)
    _validate(validate_e164, raw["duty_phone"], where)
    return {"country": code} | {name: raw[name] for name in MISSION_FIELDS}


def reference_data_read(data_dir: Path = DATA_DIR) -> ReferenceData:
    """Read and validate every file; raise ReferenceDataError naming the first problem."""
    base_path = data_dir / "countries.json"
    base = json.loads(base_path.read_text(encoding="utf-8"))
    countries: dict[str, dict[str, Any]] = {}
    for row in base["countries"]:
        code = row["code"]
        _check(code not in countries, str(base_path), f"{code} appears twice")
        _check(all(ch.isdigit() for ch in row["calling_code"]), str(base_path), f"{code}: bad calling code")
        _check(
            not row["currency"] or (len(row["currency"]) == 3 and row["currency"].isupper()),
            str(base_path),
            f"{code}: bad currency",
        )
        for zone in row["time_zones"]:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ReferenceDataError(f"{base_path}: {code}: unknown time zone {zone!r}") from exc
        countries[code] = {k: row[k] for k in ("calling_code", "currency", "time_zones")}

    missions: dict[str, dict[str, Any]] = {}
    for path in sorted((data_dir / "content").glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        code = doc.get("code", "")
        _check(code in countries, str(path), f"unknown country code {code!r}")
        _check(path.stem == code.lower(), str(path), f"file name must be {code.lower()}.toml")
        countries[code] |= _country_content(doc, str(path))
        for raw in doc.get("missions", []):
            mission = _mission(raw, code, str(path))
            _check(raw["ref"] not in missions, str(path), f"mission ref {raw['ref']!r} appears twice")
            missions[raw["ref"]] = mission
    return ReferenceData(version=str(base["version"]), countries=_json_value(countries), missions=_json_value(missions))


# ---------------------------------------------------------------------------------------------------------
# Loading


def _python_value(name: str, value: Any) -> Any:
    return dt.date.fromisoformat(value) if name in DATE_FIELDS and value else value


def _merge(obj: Any, new: dict[str, Any], old: dict[str, Any] | None, *, reset: bool) -> bool:
    """Set on `obj` every field the file changed since `old` (all of them when new or reset)."""
    changed = False
    for name, value in new.items():
        if reset or old is None or old.get(name, object()) != value:
            python = _python_value(name, value)
            if getattr(obj, name) != python:
                setattr(obj, name, python)
                changed = True
    return changed


def _flat(entry: dict[str, Any], *nested: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in nested}


def _load_children(country: Country, entry: dict, old: dict | None, report: LoadReport, *, reset: bool) -> None:
    """Sections (by kind) and regional advisories (by English region name) of one changed country entry."""
    for kind, values in entry["sections"].items():
        old_values = (old or {}).get("sections", {}).get(kind)
        section = next((s for s in country.sections.all() if s.kind == kind), None)
        if section is None:
            if old_values == values and not reset:
                continue  # deleted by staff and unchanged in the file: stay deleted
            CountrySection.objects.create(country=country, kind=kind, **_typed(values))
            report.count("sections", created=True)
        elif _merge(section, values, old_values, reset=reset):
            section.save()
            report.count("sections", created=False)
    for region_en, values in entry["regional_advisories"].items():
        old_values = (old or {}).get("regional_advisories", {}).get(region_en)
        region = next((r for r in country.regional_advisories.all() if r.region_en == region_en), None)
        if region is None:
            if old_values == values and not reset:
                continue
            RegionalAdvisory.objects.create(country=country, region_en=region_en, **_typed(values))
            report.count("regional advisories", created=True)
        elif _merge(region, values, old_values, reset=reset):
            region.save()
            report.count("regional advisories", created=False)


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _python_value(name, value) for name, value in values.items()}


@transaction.atomic
def reference_data_load(*, data: ReferenceData | None = None, reset: bool = False) -> LoadReport:
    """Create or update countries, their content and missions from the reference data (see module doc).

    Every country whose pack changed is invalidated (its `updated_at` moves, so delta sync picks it up).
    """
    data = data or reference_data_read()
    report = LoadReport(version=data.version)
    now = timezone.now()

    existing = {c.code: c for c in Country.objects.prefetch_related("sections", "regional_advisories")}
    new_countries, changed_countries = [], []
    for code, entry in data.countries.items():
        country = existing.get(code)
        flat = _flat(entry, "sections", "regional_advisories")
        if country is None:
            country = Country(code=code, reference_snapshot=entry, **_typed(flat))
            new_countries.append(country)
            report.count("countries", created=True)
            continue
        old = country.reference_snapshot
        if _merge(country, flat, _flat(old, "sections", "regional_advisories") if old else None, reset=reset):
            changed_countries.append(country)
            report.count("countries", created=False)
            report.changed_countries.add(code)
        if "sections" in entry:
            before = (sum(report.created.values()), sum(report.updated.values()))
            _load_children(country, entry, old, report, reset=reset)
            if (sum(report.created.values()), sum(report.updated.values())) != before:
                report.changed_countries.add(code)
        if old != entry:
            country.reference_snapshot = entry
            if country not in changed_countries:
                changed_countries.append(country)
    Country.objects.bulk_create(new_countries)
    for country in changed_countries:
        country.updated_at = now
    managed = {name for e in data.countries.values() for name in _flat(e, "sections", "regional_advisories")}
    fields = ["updated_at", "reference_snapshot", *sorted(managed)]
    Country.objects.bulk_update(changed_countries, fields, batch_size=100)
    for country in new_countries:  # children of brand-new countries
        if data.countries[country.code].get("sections"):
            _load_children(country, data.countries[country.code], None, report, reset=True)

    missions = {m.ref: m for m in Mission.objects.filter(ref__in=list(data.missions))}
    for ref, entry in data.missions.items():
        mission = missions.get(ref)
        values = _flat(entry, "country")
        if mission is None:
            Mission.objects.create(ref=ref, country_id=entry["country"], reference_snapshot=entry, **values)
            report.count("missions", created=True)
            report.changed_countries.add(entry["country"])
            continue
        old = mission.reference_snapshot
        changed = _merge(mission, values, _flat(old, "country") if old else None, reset=reset)
        if changed or old != entry:
            mission.reference_snapshot = entry
            mission.save()
        if changed:
            report.count("missions", created=False)
            report.changed_countries.add(mission.country_id)

    existing_changed = report.changed_countries - {c.code for c in new_countries}
    if existing_changed:
        country_packs_invalidate(codes=sorted(existing_changed))
    return report
