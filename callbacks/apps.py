from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallbacksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "callbacks"
    verbose_name = _("Call-backs")

    def ready(self) -> None:
        """Declare the traveler's data held here to the export/erasure registry (travelers never imports us)."""
        from callbacks.models import CallbackAttempt, CallbackRequest
        from callbacks.selectors import CALL_EXPORT_FIELDS, REQUEST_EXPORT_FIELDS, traveler_callbacks_export
        from countries.services import staff_scoped_app_register
        from travelers.services import export_contributor_register, personal_data_register

        staff_scoped_app_register(self.label)  # mission staff work their missions' queues

        export_contributor_register(
            key="callback_requests",
            collect=traveler_callbacks_export,
            model=CallbackRequest,
            exported=REQUEST_EXPORT_FIELDS,
            omitted={
                "traveler": "the traveler themself",
                "priority": "derived from the topic",
                "available_at": "the queue's scheduling state",
                "claimed_by": "the staff member handling it (staff data, not the traveler's)",
                "push_pending": "delivery bookkeeping of the push notices",
            },
        )
        personal_data_register(
            model=CallbackAttempt,
            exported=CALL_EXPORT_FIELDS,
            omitted={
                "id": "internal key",
                "request": "nested in its request",
                "mission": "the request's mission, exported with the request",
                "staff": "the staff member who called (staff data, not the traveler's)",
            },
        )
