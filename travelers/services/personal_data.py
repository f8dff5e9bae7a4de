"""The traveler's rights over their data: export everything stored about them, and erase it.

Other apps hold personal data too (alerts: safety replies and deliveries; callbacks: requests). travelers
must not import them, so they plug in from their AppConfig.ready(). The simplest contribution is a callable
appended to `EXPORT_CONTRIBUTORS`, called as `collect(traveler=traveler)`; its section in the document is
named by its `export_key` attribute or else by its function name without `traveler_` and `_export`
(`traveler_replies_export` -> "replies"). `export_contributor_register` does the same and declares fields:

    from travelers.services import export_contributor_register, export_rows

    export_contributor_register(
        key="callback_requests",
        collect=lambda *, traveler: export_rows(CallbackRequest.objects.filter(traveler=traveler), FIELDS),
        model=CallbackRequest,
        exported=FIELDS,
        omitted={"claimed_by": "the staff member who handled it, not the traveler's data"},
    )

`PERSONAL_DATA_FIELDS` says, for every model that points at a traveler (directly or through a device, trip
or another such model), which fields the export carries and why the others are left out
(`personal_data_register`); a test fails when a model or a field is missing from it. Erasure relies on every
such foreign key being `on_delete=CASCADE`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from travelers.models import AuthToken, Device, DeviceSubscription, OneTimeCode, Traveler, Trip, TripLeg, TripLegCity


@dataclass(frozen=True)
class PersonalDataSpec:
    exported: tuple[str, ...]
    omitted: Mapping[str, str] = field(default_factory=dict)  # field name -> why the export leaves it out


# callables `collect(*, traveler)` returning JSON-serialisable data, one section of the export each
EXPORT_CONTRIBUTORS: list[Callable[..., Any]] = []
# model -> which of its fields the export carries
PERSONAL_DATA_FIELDS: dict[type[models.Model], PersonalDataSpec] = {}


def personal_data_register(
    *, model: type[models.Model], exported: Iterable[str], omitted: Mapping[str, str] | None = None
) -> None:
    PERSONAL_DATA_FIELDS[model] = PersonalDataSpec(exported=tuple(exported), omitted=dict(omitted or {}))


class ExportCollector(Protocol):
    """`collect(*, traveler)`: one section of the export, JSON-serialisable."""

    def __call__(self, *, traveler: Traveler) -> Any: ...


def export_contributor_register(
    *,
    key: str,
    collect: ExportCollector,
    model: type[models.Model] | None = None,
    exported: Iterable[str] = (),
    omitted: Mapping[str, str] | None = None,
) -> None:
    """Add a section `key` to the export; `model`/`exported`/`omitted` declare its fields (see above)."""
    collect.export_key = key  # type: ignore[attr-defined]
    if collect not in EXPORT_CONTRIBUTORS:
        EXPORT_CONTRIBUTORS.append(collect)
    if model is not None:
        personal_data_register(model=model, exported=exported, omitted=omitted)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)  # PhoneNumber, country codes, lazy strings


def export_rows(queryset: models.QuerySet, fields: Iterable[str]) -> list[dict[str, Any]]:
    """`fields` of each row as JSON-ready values (dates in ISO 8601, phones in E.164)."""
    fields = list(fields)
    return [{name: _jsonable(row[name]) for name in fields} for row in queryset.values(*fields)]


# --- travelers' own sections --------------------------------------------------------------------------

PROFILE_FIELDS = (
    "id",
    "phone",
    "full_name",
    "email",
    "language",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
    "created_at",
    "last_seen_at",
)
TRIP_FIELDS = ("id", "accommodation", "companions", "notes", "start_date", "end_date", "created_at", "updated_at")
LEG_FIELDS = ("position", "country", "cities", "start_date", "end_date")
SESSION_FIELDS = ("session", "kind", "created_at", "expires_at")
CODE_FIELDS = ("phone", "created_at", "expires_at", "attempts")
DEVICE_FIELDS = (
    "id",
    "platform",
    "locale",
    "app_version",
    "is_active",
    "deactivated_reason",
    "created_at",
    "last_seen_at",
)


def _profile(*, traveler: Traveler) -> dict[str, Any]:
    return export_rows(Traveler.objects.filter(pk=traveler.pk), PROFILE_FIELDS)[0]


def _trips(*, traveler: Traveler) -> list[dict[str, Any]]:
    trips = export_rows(Trip.objects.filter(traveler=traveler).order_by("start_date", "id"), TRIP_FIELDS)
    legs: dict[int, list] = {}
    for leg in TripLeg.objects.filter(trip__traveler=traveler).order_by("position").values("trip_id", *LEG_FIELDS):
        legs.setdefault(leg.pop("trip_id"), []).append({k: _jsonable(v) for k, v in leg.items()})
    return [{**trip, "legs": legs.get(trip["id"], [])} for trip in trips]


def _devices(*, traveler: Traveler) -> list[dict[str, Any]]:
    devices = export_rows(Device.objects.filter(traveler=traveler).order_by("id"), DEVICE_FIELDS)
    subscriptions: dict[int, list[str]] = {}
    for device_id, country in DeviceSubscription.objects.filter(device__traveler=traveler).values_list(
        "device_id", "country_id"
    ):
        subscriptions.setdefault(device_id, []).append(country)
    return [{**device, "subscriptions": sorted(subscriptions.get(device["id"], []))} for device in devices]


def _sessions(*, traveler: Traveler) -> list[dict[str, Any]]:
    return export_rows(
        AuthToken.objects.filter(traveler=traveler).order_by("created_at"),
        ("session", "kind", "created_at", "expires_at"),
    )


def _sign_in_codes(*, traveler: Traveler) -> list[dict[str, Any]]:
    return export_rows(
        OneTimeCode.objects.filter(phone=traveler.phone), ("phone", "created_at", "expires_at", "attempts")
    )


export_contributor_register(key="profile", collect=_profile, model=Traveler, exported=PROFILE_FIELDS)
export_contributor_register(
    key="trips",
    collect=_trips,
    model=Trip,
    exported=TRIP_FIELDS,
    omitted={"traveler": "the traveler themself"},
)
personal_data_register(model=TripLeg, exported=LEG_FIELDS, omitted={"id": "internal key", "trip": "nested in its trip"})
personal_data_register(
    model=TripLegCity,
    exported=(),
    omitted={"id": "internal key", "leg": "internal link", "name": "a case-folded copy of the leg's cities"},
)
export_contributor_register(
    key="devices",
    collect=_devices,
    model=Device,
    exported=DEVICE_FIELDS,
    omitted={
        "traveler": "the traveler themself",
        "token": "the device's push credential (a secret, shown to no one)",
        "token_hash": "a digest of the push credential",
    },
)
personal_data_register(
    model=DeviceSubscription,
    exported=("country",),
    omitted={"id": "internal key", "device": "nested in its device"},
)
export_contributor_register(
    key="sessions",
    collect=_sessions,
    model=AuthToken,
    exported=SESSION_FIELDS,
    omitted={"digest": "a digest of the bearer token (a secret)", "traveler": "the traveler themself"},
)
export_contributor_register(
    key="sign_in_codes",
    collect=_sign_in_codes,
    model=OneTimeCode,
    exported=CODE_FIELDS,
    omitted={"id": "internal key", "code_hash": "a digest of the code (a secret)"},
)


def export_key(collect: Callable[..., Any]) -> str:
    key = getattr(collect, "export_key", None)
    if key:
        return key
    return collect.__name__.removeprefix("traveler_").removesuffix("_export")


def traveler_export(*, traveler: Traveler) -> dict[str, Any]:
    """Everything stored about the traveler, every registered section, as one JSON document."""
    document: dict[str, Any] = {"exported_at": timezone.now().isoformat()}
    for collect in EXPORT_CONTRIBUTORS:
        document[export_key(collect)] = collect(traveler=traveler)
    return document


@transaction.atomic
def traveler_erase(*, traveler: Traveler) -> None:
    """Delete the traveler and every row about them, at once and for good.

    Trips, legs, devices, subscriptions and tokens (so every bearer token stops working) and other apps'
    rows go by foreign-key CASCADE; sign-in codes are matched by phone; the staff panel's history of the
    traveler's objects goes too, so no name or phone survives anywhere in the database.
    """
    traveler = Traveler.objects.select_for_update().get(pk=traveler.pk)
    OneTimeCode.objects.filter(phone=traveler.phone).delete()
    objects: list[tuple[type[models.Model], list[Any]]] = [
        (Traveler, [traveler.pk]),
        (Trip, list(Trip.objects.filter(traveler=traveler).values_list("pk", flat=True))),
        (Device, list(Device.objects.filter(traveler=traveler).values_list("pk", flat=True))),
    ]
    types = ContentType.objects.get_for_models(Traveler, Trip, Device)
    for model, pks in objects:
        if pks:
            LogEntry.objects.filter(content_type=types[model], object_id__in=[str(pk) for pk in pks]).delete()
    traveler.delete()
