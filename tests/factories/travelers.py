import datetime as dt
import hashlib

import factory
from django.utils import timezone

from tests.factories.countries import CountryFactory
from travelers.models import Device, DeviceSubscription, Platform, Traveler, Trip, TripLeg, TripLegCity


def _country(value):
    """A Country instance, or a code ("am", "US") turned into one."""
    if value is None:
        return CountryFactory()
    if isinstance(value, str):
        return CountryFactory(code=value.upper())
    return value


class TravelerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Traveler

    phone = factory.Sequence(lambda n: f"+3749{n:07d}")
    full_name = factory.Faker("name")


class TripFactory(factory.django.DjangoModelFactory):
    """A trip with one leg (in `leg__country`, a Country or a code; covering today unless dates are given).

    `legs=[{"country": "AM", "cities": [...], "start_date": d1, "end_date": d2}, ...]` makes several legs
    instead (the trip's dates then follow the legs).
    """

    class Meta:
        model = Trip
        skip_postgeneration_save = True

    traveler = factory.SubFactory(TravelerFactory)
    start_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1))
    end_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))

    @factory.post_generation
    def leg(self, create, extracted, **kwargs):
        if not create or extracted is False or getattr(self, "_legs_given", False):
            return
        _legs_create(
            self,
            [
                {
                    "country": kwargs.pop("country", None),
                    "cities": kwargs.pop("cities", []),
                    "start_date": self.start_date,
                    "end_date": self.end_date,
                }
            ],
        )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        legs = kwargs.pop("legs", None)
        if legs:
            kwargs["start_date"] = legs[0]["start_date"]
            kwargs["end_date"] = legs[-1]["end_date"]
        trip = super()._create(model_class, *args, **kwargs)
        if legs:
            trip._legs_given = True
            _legs_create(trip, legs)
        return trip


def _legs_create(trip: Trip, legs: list[dict]) -> None:
    for position, spec in enumerate(legs):
        cities = list(spec.get("cities", []))
        leg = TripLeg.objects.create(
            trip=trip,
            position=position,
            country=_country(spec.get("country")),
            cities=cities,
            start_date=spec["start_date"],
            end_date=spec["end_date"],
        )
        TripLegCity.objects.bulk_create([TripLegCity(leg=leg, name=c.casefold()) for c in dict.fromkeys(cities)])


class DeviceFactory(factory.django.DjangoModelFactory):
    """A push device; `subscriptions=["AM", "US"]` subscribes it to those countries."""

    class Meta:
        model = Device
        skip_postgeneration_save = True

    traveler = factory.SubFactory(TravelerFactory)
    platform = Platform.ANDROID
    token = factory.Sequence(lambda n: f"fcm-token-{n:08d}")
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    locale = "ru"

    @factory.post_generation
    def subscriptions(self, create, extracted, **kwargs):
        if create and extracted:
            DeviceSubscription.objects.bulk_create(
                [DeviceSubscription(device=self, country=_country(code)) for code in extracted]
            )
