"""The traveler's data rights: the export carries everything, erasure leaves nothing, in any table."""

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone

from tests.factories.alerts import DeliveryFactory, SafetyReplyFactory
from tests.factories.callbacks import CallbackAttemptFactory, CallbackRequestFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from tests.problems import assert_problem
from travelers.models import AuthToken, Device, OneTimeCode, Traveler, Trip
from travelers.services import PERSONAL_DATA_FIELDS, otp_request, token_pair_issue

PHONE = "+37499887766"
NAME = "Zinaida Quackenbush"
EMAIL = "zinaida.q@example.org"
CONTACT_PHONE = "+74957654321"


def personal_models() -> set[type[models.Model]]:
    """Traveler and every model that points at it, directly or through another such model."""
    found: set[type[models.Model]] = {Traveler, OneTimeCode}  # codes are linked by phone, not by a key
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            if model in found:
                continue
            if any(f.many_to_one and f.related_model in found for f in model._meta.concrete_fields):
                found.add(model)
                changed = True
    return found


def _label(model: Any) -> str:
    return model._meta.label


@pytest.mark.parametrize("model", sorted(personal_models(), key=_label), ids=_label)
def test_every_personal_field_is_exported_or_explained(model):
    """A model that gains a field about a traveler fails here until the field is exported or the reason it is
    not is written down (travelers.services.personal_data_register / export_contributor_register)."""
    spec = PERSONAL_DATA_FIELDS.get(model)
    assert spec is not None, f"{model._meta.label} holds traveler data but is not in PERSONAL_DATA_FIELDS"
    fields = {f.name for f in model._meta.concrete_fields}
    unclassified = fields - set(spec.exported) - set(spec.omitted)
    assert not unclassified, f"{model._meta.label}: neither exported nor explained: {sorted(unclassified)}"
    unknown = (set(spec.exported) | set(spec.omitted)) - fields
    assert not unknown, f"{model._meta.label}: no such fields: {sorted(unknown)}"


def test_every_key_to_a_traveler_cascades():
    """Erasure relies on the database cascading from the traveler to every row about them."""
    for model in personal_models() - {Traveler, OneTimeCode}:
        for f in model._meta.concrete_fields:
            if f.many_to_one and f.related_model in personal_models():
                assert f.remote_field.on_delete is models.CASCADE, f"{model._meta.label}.{f.name}"


@pytest.fixture
def rich_traveler(countries):
    """A traveler with something in every place personal data can be."""
    traveler = TravelerFactory(
        phone=PHONE,
        full_name=NAME,
        email=EMAIL,
        language="en",
        emergency_contact_name="Boris Quackenbush",
        emergency_contact_phone=CONTACT_PHONE,
        emergency_contact_relation="brother",
    )
    today = timezone.localdate()
    trip = TripFactory(
        traveler=traveler,
        accommodation=f"Room 12, guest of {NAME}",
        companions=[{"name": "Olga Quackenbush", "relation": "wife"}],
        notes=f"call {PHONE}",
        legs=[
            {"country": "AM", "cities": ["Yerevan"], "start_date": today, "end_date": today + dt.timedelta(days=3)},
            {"country": "GE", "cities": ["Tbilisi"], "start_date": today + dt.timedelta(days=3),
             "end_date": today + dt.timedelta(days=6)},
        ],
    )  # fmt: skip
    device = DeviceFactory(traveler=traveler, token="zq-push-token", subscriptions=["AM", "US"])
    pair = token_pair_issue(traveler=traveler)
    otp_request(phone=PHONE)
    SafetyReplyFactory(traveler=traveler, message=f"{NAME} is safe")
    DeliveryFactory(device=device)
    request = CallbackRequestFactory(traveler=traveler, message=f"Please call {NAME} on {PHONE}")
    CallbackAttemptFactory(request=request)
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Traveler),
        object_id=str(traveler.pk),
        object_repr=NAME,  # as older code wrote it
        action_flag=CHANGE,
        change_message=f"Changed phone to {PHONE}",
        user=CallbackAttemptFactory._meta.model.objects.first().staff,
    )
    return {"traveler": traveler, "trip": trip, "device": device, "tokens": pair}


def test_export_holds_everything(rich_traveler, make_client):
    client = make_client(rich_traveler["traveler"])
    response = client.get("/api/v1/me/export/")
    assert response.status_code == 200
    data = response.json()
    assert data["profile"] | {"created_at": None, "last_seen_at": None} == {
        "id": str(rich_traveler["traveler"].pk),
        "phone": PHONE,
        "full_name": NAME,
        "email": EMAIL,
        "language": "en",
        "emergency_contact_name": "Boris Quackenbush",
        "emergency_contact_phone": CONTACT_PHONE,
        "emergency_contact_relation": "brother",
        "created_at": None,
        "last_seen_at": None,
    }
    (trip,) = data["trips"]
    assert trip["accommodation"] == f"Room 12, guest of {NAME}"
    assert trip["companions"] == [{"name": "Olga Quackenbush", "relation": "wife"}]
    assert [(leg["country"], leg["cities"]) for leg in trip["legs"]] == [("AM", ["Yerevan"]), ("GE", ["Tbilisi"])]
    (device,) = data["devices"]
    assert device["subscriptions"] == ["AM", "US"]
    assert "token" not in device
    assert {s["kind"] for s in data["sessions"]} == {"access", "refresh"}
    assert data["sign_in_codes"][0]["phone"] == PHONE
    assert "code_hash" not in data["sign_in_codes"][0]
    # other apps' sections, registered from their AppConfig.ready()
    assert f"{NAME} is safe" in str(data)
    assert f"Please call {NAME}" in str(data)
    # no secrets
    assert rich_traveler["tokens"].access not in str(data)
    assert "zq-push-token" not in str(data)


def text_columns() -> list[tuple[str, str]]:
    """(table, column) of every text-like column of every table, found by introspection."""
    out = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                kind = connection.introspection.get_field_type(column.type_code, column)
                if kind in {"CharField", "TextField", "JSONField"}:
                    out.append((table, column.name))
    return out


def tables_containing(*needles: str) -> list[str]:
    hits = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in text_columns():
            for needle in needles:
                cursor.execute(
                    f"SELECT count(*) FROM {qn(table)} WHERE {qn(column)}::text ILIKE %s",  # noqa: S608
                    [f"%{needle}%"],
                )
                if cursor.fetchone()[0]:
                    hits.append(f"{table}.{column} contains {needle!r}")
    return hits


def test_erasure_leaves_no_trace_in_any_table(rich_traveler, make_client):
    needles = (PHONE, PHONE.lstrip("+"), NAME, EMAIL, CONTACT_PHONE, "Olga Quackenbush", "zq-push-token")
    assert len(text_columns()) > 50
    assert tables_containing(*needles)  # the scan does find them before
    client = make_client(rich_traveler["traveler"])
    assert client.delete("/api/v1/me/").status_code == 204
    assert tables_containing(*needles) == []
    assert not Traveler.objects.exists()
    assert not Trip.objects.exists()
    assert not Device.objects.exists()
    assert not AuthToken.objects.exists()


def test_tokens_stop_working_at_once_after_erasure(rich_traveler, api_client, make_client):
    client = make_client(rich_traveler["traveler"])
    other = rich_traveler["tokens"]
    assert client.delete("/api/v1/me/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other.access}")
    response = api_client.get("/api/v1/trips/")
    assert_problem(response, 401, "invalid_token")
    api_client.credentials()
    assert api_client.post("/api/v1/auth/refresh/", {"refresh": other.refresh}, format="json").status_code == 401


def test_erasure_leaves_other_travelers_alone(rich_traveler, make_client):
    other = TravelerFactory()
    TripFactory(traveler=other)
    DeviceFactory(traveler=other)
    assert make_client(rich_traveler["traveler"]).delete("/api/v1/me/").status_code == 204
    assert Traveler.objects.get() == other
    assert Trip.objects.filter(traveler=other).count() == 1
    assert Device.objects.filter(traveler=other).count() == 1
    assert AuthToken.objects.count() == 0
