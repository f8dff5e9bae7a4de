"""Trip registration: the rules of a trip's shape live here and nowhere else.

Each broken rule is a 400 with one stable code and the offending field:
`legs_required`, `too_many_legs`, `end_before_start`, `legs_out_of_order`, `trip_in_past`, `trip_too_long`,
`unknown_country`, `too_many_companions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from countries.models import Country
from travelers.models import Traveler, Trip, TripLeg, TripLegCity

MAX_LEGS = 20
MAX_COMPANIONS = 20
MAX_TRIP_DAYS = 366  # first day to last day inclusive: a year, leap years included


@dataclass(frozen=True)
class LegInput:
    country: str
    start_date: date
    end_date: date
    cities: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class CompanionInput:
    name: str
    relation: str = ""


def country_codes_check(*, codes: Sequence[str], field_name: str, suffix: str = "") -> list[str]:
    """Upper-cased codes, each an existing Country, else 400 `unknown_country` on `<field_name>[i]<suffix>`."""
    upper = [code.strip().upper() for code in codes]
    known = set(Country.objects.filter(code__in=set(upper)).values_list("code", flat=True))
    for index, code in enumerate(upper):
        if code not in known:
            raise ApplicationError(
                _("Unknown country code: %(code)s.") % {"code": code},
                code="unknown_country",
                field=f"{field_name}[{index}]{suffix}",
            )
    return upper


def _cities_clean(cities: Sequence[str]) -> list[str]:
    """Trimmed place names, without blanks and case-insensitive repeats, in the traveler's spelling."""
    seen: set[str] = set()
    out: list[str] = []
    for city in cities:
        name = " ".join(city.split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def _legs_check(*, legs: Sequence[LegInput], today: date) -> list[LegInput]:
    if not legs:
        raise ApplicationError(_("A trip needs at least one leg."), code="legs_required", field="legs")
    if len(legs) > MAX_LEGS:
        raise ApplicationError(
            _("A trip can have at most %(max)d legs.") % {"max": MAX_LEGS}, code="too_many_legs", field="legs"
        )
    for index, leg in enumerate(legs):
        if leg.end_date < leg.start_date:
            raise ApplicationError(
                _("The leg ends before it starts."), code="end_before_start", field=f"legs[{index}].end_date"
            )
        # Legs follow each other; a leg may start on the day the previous one ends (a travel day).
        if index and leg.start_date < legs[index - 1].end_date:
            raise ApplicationError(
                _("Legs must be in chronological order and must not overlap."),
                code="legs_out_of_order",
                field=f"legs[{index}].start_date",
            )
    last = len(legs) - 1
    if legs[last].end_date < today:
        raise ApplicationError(_("The trip has already ended."), code="trip_in_past", field=f"legs[{last}].end_date")
    if (legs[last].end_date - legs[0].start_date).days + 1 > MAX_TRIP_DAYS:
        raise ApplicationError(
            _("A trip can last at most %(days)d days.") % {"days": MAX_TRIP_DAYS},
            code="trip_too_long",
            field=f"legs[{last}].end_date",
        )
    codes = country_codes_check(codes=[leg.country for leg in legs], field_name="legs", suffix=".country")
    return [
        LegInput(country=code, start_date=leg.start_date, end_date=leg.end_date, cities=_cities_clean(leg.cities))
        for code, leg in zip(codes, legs, strict=True)
    ]


def _companions_check(companions: Sequence[CompanionInput]) -> list[dict[str, str]]:
    if len(companions) > MAX_COMPANIONS:
        raise ApplicationError(
            _("A trip can have at most %(max)d companions.") % {"max": MAX_COMPANIONS},
            code="too_many_companions",
            field="companions",
        )
    return [{"name": c.name.strip(), "relation": c.relation.strip()} for c in companions]


def _legs_write(*, trip: Trip, legs: list[LegInput]) -> None:
    """Replace the trip's legs and their case-folded city rows (the audience matches cities on those)."""
    trip.legs.all().delete()
    rows = TripLeg.objects.bulk_create(
        [
            TripLeg(
                trip=trip,
                position=index,
                country_id=leg.country,
                cities=list(leg.cities),
                start_date=leg.start_date,
                end_date=leg.end_date,
            )
            for index, leg in enumerate(legs)
        ]
    )
    TripLegCity.objects.bulk_create(
        [TripLegCity(leg=row, name=city.casefold()[:100]) for row in rows for city in row.cities],
        ignore_conflicts=True,  # two spellings that differ only after case folding (e.g. "ß" and "ss")
    )
    trip.start_date, trip.end_date = legs[0].start_date, legs[-1].end_date


@transaction.atomic
def trip_register(
    *,
    traveler: Traveler,
    legs: Sequence[LegInput],
    accommodation: str = "",
    companions: Sequence[CompanionInput] = (),
    notes: str = "",
) -> Trip:
    clean_legs = _legs_check(legs=legs, today=timezone.localdate())
    trip = Trip(
        traveler=traveler,
        accommodation=accommodation.strip(),
        companions=_companions_check(companions),
        notes=notes.strip(),
        start_date=clean_legs[0].start_date,
        end_date=clean_legs[-1].end_date,
    )
    trip.save()
    _legs_write(trip=trip, legs=clean_legs)
    return trip


@transaction.atomic
def trip_update(
    *,
    trip: Trip,
    legs: Sequence[LegInput] | None = None,
    accommodation: str | None = None,
    companions: Sequence[CompanionInput] | None = None,
    notes: str | None = None,
) -> Trip:
    """Change a trip; `None` leaves a part as it is (PATCH), new legs replace all legs (the rules apply)."""
    trip = Trip.objects.select_for_update().get(pk=trip.pk)
    if legs is not None:
        _legs_write(trip=trip, legs=_legs_check(legs=legs, today=timezone.localdate()))
    if accommodation is not None:
        trip.accommodation = accommodation.strip()
    if companions is not None:
        trip.companions = _companions_check(companions)
    if notes is not None:
        trip.notes = notes.strip()
    trip.save()
    return trip


@transaction.atomic
def trip_delete(*, trip: Trip) -> None:
    trip.delete()
