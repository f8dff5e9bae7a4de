import factory
from django.contrib.auth import get_user_model

from countries.models import Country, Mission, MissionKind, StaffMembership


class CountryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Country
        django_get_or_create = ("code",)

    code = "AM"
    capital_en = "Yerevan"
    capital_ru = "Ереван"
    calling_code = "374"
    currency = "AMD"
    time_zones = factory.LazyFunction(lambda: ["Asia/Yerevan"])


class MissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mission

    country = factory.SubFactory(CountryFactory)
    kind = MissionKind.EMBASSY
    name_ru = factory.Sequence(lambda n: f"Посольство {n}")
    name_en = factory.Sequence(lambda n: f"Embassy {n}")
    city_ru = "Ереван"
    city_en = "Yerevan"
    address_ru = "ул. Григора Лусаворича, 13а"
    address_en = "13a Grigor Lusavorich St"
    latitude = 40.1772
    longitude = 44.5035
    time_zone = "Asia/Yerevan"
    opening_hours = factory.LazyFunction(
        lambda: {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}
    )


class StaffUserFactory(factory.django.DjangoModelFactory):
    """A staff-panel user working for the given missions: StaffUserFactory(missions=[mission])."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"diplomat{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def missions(self, create, extracted, **kwargs):
        if create and extracted:
            StaffMembership.objects.bulk_create([StaffMembership(user=self, mission=m) for m in extracted])
        if create:
            self.save()
