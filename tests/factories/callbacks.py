import factory
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackRequest, Status, Topic
from tests.factories.countries import CountryFactory, MissionFactory, StaffUserFactory
from tests.factories.travelers import TravelerFactory

__all__ = ["CallbackAttemptFactory", "CallbackRequestFactory", "StaffUserFactory"]


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
