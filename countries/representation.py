"""The JSON documents of the countries API as plain data: a country list item, a mission, the offline pack.

Plain functions over model instances (no database access of their own: callers pass prefetched rows), so the
pack can be built once, rendered to bytes and cached. `countries/api/serializers.py` describes the same shapes
for the OpenAPI schema; tests check real documents against that schema.

Texts come in the request's language (`ru` or `en`); an empty English text falls back to the Russian one.
Times are ISO 8601 with offset: local times in the mission's own zone, `*_utc` in UTC with `Z`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import translation
from django_countries import countries as iso_countries

from countries.hours import WEEKDAYS, hours_state
from countries.models import AdvisoryLevel, Country, CountrySection, Mission, MissionKind, SectionKind

LANGUAGES = ("ru", "en")
MISSION_KIND_ORDER = {kind: index for index, kind in enumerate(MissionKind.values)}
SECTION_ORDER = {kind: index for index, kind in enumerate(SectionKind.values)}


def language_of(language: str | None) -> str:
    """The API language for Django's active language: English when asked for, Russian otherwise."""
    return "en" if language and language.lower().startswith("en") else "ru"


def _text(obj: Any, name: str, language: str) -> str:
    return getattr(obj, f"{name}_{language}") or getattr(obj, f"{name}_ru")


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _label(choices, value) -> str | None:
    return str(choices(value).label) if value is not None else None


def country_name(code: str, language: str) -> str:
    with translation.override(language):
        return str(iso_countries.name(code))


def country_list_items(rows, *, language: str) -> list[dict[str, Any]]:
    """`values()` rows of Country (code, advisory_level, callbacks_enabled, updated_at), sorted by name."""
    with translation.override(language):
        items = [
            {
                "code": row["code"],
                "name": str(iso_countries.name(row["code"])),
                "advisory_level": row["advisory_level"],
                "callbacks_enabled": row["callbacks_enabled"],
                "updated_at": iso(row["updated_at"]),
            }
            for row in rows
        ]
    items.sort(key=lambda item: item["name"])
    return items


def mission_sort_key(mission: Mission) -> tuple:
    return (mission.country_id, MISSION_KIND_ORDER.get(mission.kind, 99), mission.name_en)


def mission_document(
    mission: Mission, *, language: str, at: dt.datetime, distance_km: float | None = None
) -> dict[str, Any]:
    state = hours_state(mission.opening_hours, mission.time_zone, at)
    with translation.override(language):
        kind_label = _label(MissionKind, mission.kind)
    return {
        "id": mission.pk,
        "ref": mission.ref,
        "country": mission.country_id,
        "kind": mission.kind,
        "kind_label": kind_label,
        "name": _text(mission, "name", language),
        "city": _text(mission, "city", language),
        "address": _text(mission, "address", language),
        "latitude": mission.latitude,
        "longitude": mission.longitude,
        "distance_km": round(distance_km, 1) if distance_km is not None else None,
        "phones": list(mission.phones),
        "duty_phone": mission.duty_phone or None,
        "email": mission.email or None,
        "website": mission.website or None,
        "time_zone": mission.time_zone,
        "opening_hours": {day: [list(span) for span in mission.opening_hours.get(day) or []] for day in WEEKDAYS},
        "open_now": state.open_now,
        "opens_at": iso(state.opens_at),
        "opens_at_utc": iso(state.opens_at.astimezone(dt.UTC)) if state.opens_at else None,
        "closes_at": iso(state.closes_at),
        "closes_at_utc": iso(state.closes_at.astimezone(dt.UTC)) if state.closes_at else None,
        "serves_regions": list(mission.serves_regions),
        "updated_at": iso(mission.updated_at),
    }


def _section(section: CountrySection, language: str) -> dict[str, Any]:
    return {
        "kind": section.kind,
        "title": _text(section, "title", language),
        "body": _text(section, "body", language),
        "reviewed_at": iso(section.reviewed_at),
        "updated_at": iso(section.updated_at),
    }


def country_pack_document(country: Country, *, language: str, at: dt.datetime) -> tuple[dict, dt.datetime | None]:
    """The offline pack of a country prefetched with sections, regional advisories and active missions.

    Returns the document and the next instant it changes by itself (a mission opens or closes), or None.
    """
    missions = sorted(country.missions.all(), key=mission_sort_key)
    mission_docs = [mission_document(m, language=language, at=at) for m in missions]
    changes = [hours_state(m.opening_hours, m.time_zone, at).next_change for m in missions]
    with translation.override(language):
        regions = [
            {
                "region": _text(region, "region", language),
                "level": region.level,
                "level_label": _label(AdvisoryLevel, region.level),
                "summary": _text(region, "summary", language),
                "indicators": list(region.indicators),
                "reviewed_at": iso(region.reviewed_at),
            }
            for region in sorted(country.regional_advisories.all(), key=lambda r: (-r.level, r.region_en))
        ]
        advisory = {
            "level": country.advisory_level,
            "level_label": _label(AdvisoryLevel, country.advisory_level),
            "summary": _text(country, "advisory_summary", language),
            "indicators": list(country.advisory_indicators),
            "reviewed_at": iso(country.reviewed_at),
            "regions": regions,
        }
    document = {
        "code": country.code.code,  # type: ignore[attr-defined]  # a CountryField is a Country
        "name": country_name(country.code.code, language),  # type: ignore[attr-defined]
        "language": language,
        "capital": _text(country, "capital", language) or None,
        "calling_code": country.calling_code or None,
        "currency": country.currency or None,
        "time_zones": list(country.time_zones),
        "callbacks_enabled": country.callbacks_enabled,
        "advisory": advisory,
        "emergency_numbers": {
            kind: getattr(country, f"emergency_{kind}") or None for kind in ("police", "ambulance", "fire", "single")
        },
        "sections": [
            _section(s, language) for s in sorted(country.sections.all(), key=lambda s: SECTION_ORDER.get(s.kind, 99))
        ],
        "missions": mission_docs,
        "updated_at": iso(country.updated_at),
    }
    return document, min((c for c in changes if c is not None), default=None)
