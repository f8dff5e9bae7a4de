import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackRequest, Status, Topic
from countries.models import StaffMembership
from tests.factories.countries import CountryFactory, MissionFactory
from tests.factories.travelers import TravelerFactory


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


class CallbackRequestFactory(factory.django.DjangoModelFactory):
    """A queued request in the mission's queue (country AM with call-backs on, unless given)."""

    class Meta:
        model = CallbackRequest

    traveler = factory.SubFactory(TravelerFactory)
    country = factory.SubFactory(CountryFactory, callbacks_enabled=True)
    mission = factory.SubFactory(MissionFactory, country=factory.SelfAttribute("..country"))
    topic = Topic.LOST_DOCUMENTS
    language = "ru"
    status = Status.QUEUED
    queued_at = factory.LazyFunction(timezone.now)
    available_at = factory.SelfAttribute("queued_at")


class CallbackAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallbackAttempt

    request = factory.SubFactory(CallbackRequestFactory)
    mission = factory.SelfAttribute("request.mission")
    staff = factory.SubFactory(StaffUserFactory)
    outcome = "completed"
    started_at = factory.LazyFunction(timezone.now)
    ended_at = factory.SelfAttribute("started_at")
