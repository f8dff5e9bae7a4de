import factory
from django.contrib.auth.models import Permission

from alerts.models import Alert, AlertStatus, Delivery, SafetyReply, Severity
from tests.factories.countries import CountryFactory, StaffUserFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory


class AlertStaffFactory(StaffUserFactory):
    """A staff-panel user of the given missions, allowed to work with alerts: AlertStaffFactory(missions=[m])."""

    username = factory.Sequence(lambda n: f"duty-officer-{n}")

    @factory.post_generation
    def alert_permissions(self, create, extracted, **kwargs):
        if create and extracted is not False:
            self.user_permissions.add(*Permission.objects.filter(content_type__app_label="alerts"))


class AlertFactory(factory.django.DjangoModelFactory):
    """A draft alert (collapse id = its id, as alert_create sets it)."""

    class Meta:
        model = Alert
        skip_postgeneration_save = True

    country = factory.SubFactory(CountryFactory)
    severity = Severity.WARNING
    title_ru = "Землетрясение"
    title_en = "Earthquake"
    text_ru = "Сильное землетрясение. Оставайтесь на улице, следите за указаниями властей."
    text_en = "A strong earthquake. Stay outdoors and follow the authorities' instructions."
    status = AlertStatus.DRAFT
    author = factory.SubFactory(AlertStaffFactory)

    @factory.post_generation
    def set_collapse_id(self, create, extracted, **kwargs):
        if create and not self.collapse_id:
            self.collapse_id = str(self.pk)
            Alert.objects.filter(pk=self.pk).update(collapse_id=self.collapse_id)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    alert = factory.SubFactory(AlertFactory)
    device = factory.SubFactory(DeviceFactory)


class SafetyReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SafetyReply

    alert = factory.SubFactory(AlertFactory)
    traveler = factory.SubFactory(TravelerFactory)
    status = "safe"
