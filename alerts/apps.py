from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        """Plug into the registries other apps offer (they never import alerts): /healthz, the country pack
        and the traveler's data export."""
        from alerts.api.serializers import country_pack_contribution
        from alerts.selectors import traveler_replies_export
        from alerts.services import alerts_health_check
        from core.views import HEALTH_CHECKS

        if alerts_health_check not in HEALTH_CHECKS:
            HEALTH_CHECKS.append(alerts_health_check)
        from countries.services import staff_scoped_app_register

        staff_scoped_app_register(self.label)  # mission staff compose and send alerts for their countries
        try:
            from countries.services import pack_contributor_register
        except ImportError:  # the country pack is not there yet
            pass
        else:
            pack_contributor_register(country_pack_contribution)
        try:
            from travelers.services import export_contributor_register
        except ImportError:  # the data export is not there yet
            return
        from alerts.models import Delivery, SafetyReply
        from alerts.selectors import DELIVERY_EXPORT_FIELDS, REPLY_EXPORT_FIELDS, traveler_deliveries_export

        export_contributor_register(
            key="alert_replies",
            collect=traveler_replies_export,
            model=SafetyReply,
            exported=REPLY_EXPORT_FIELDS,
            omitted={"id": "internal key", "traveler": "the traveler themself"},
        )
        export_contributor_register(
            key="alert_deliveries",
            collect=traveler_deliveries_export,
            model=Delivery,
            exported=DELIVERY_EXPORT_FIELDS,
            omitted={
                "id": "internal key",
                "next_attempt_at": "the sender's scheduling state",
                "leased_until": "the sender's bookkeeping",
                "lease_owner": "the sender's bookkeeping (a task id)",
            },
        )
