import datetime as dt
import hashlib

import factory
from django.utils import timezone

from tests.factories.countries import CountryFactory
from travelers.models import Device, Platform, Traveler, Trip, TripLeg, TripLegCity


class TravelerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Traveler

    phone = factory.Sequence(lambda n: f"+3749{n:07d}")
    full_name = factory.Faker("name")


class TripFactory(factory.django.DjangoModelFactory):
    """A trip with one leg (in `country`, covering today unless dates are given)."""

    class Meta:
        model = Trip

    traveler = factory.SubFactory(TravelerFactory)
    start_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1))
    end_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))

    @factory.post_generation
    def leg(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        country = kwargs.pop("country", None) or CountryFactory()
        cities = kwargs.pop("cities", [])
        leg = TripLeg.objects.create(
            trip=self, position=0, country=country, cities=cities, start_date=self.start_date, end_date=self.end_date
        )
        TripLegCity.objects.bulk_create([TripLegCity(leg=leg, name=c.casefold()) for c in cities])


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    traveler = factory.SubFactory(TravelerFactory)
    platform = Platform.ANDROID
    token = factory.Sequence(lambda n: f"fcm-token-{n:08d}")
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    locale = "ru"
