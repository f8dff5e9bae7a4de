from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TravelersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "travelers"
    verbose_name = _("Travelers")

    def ready(self) -> None:
        """Mission staff work with travelers in the panel, scoped to their missions' countries."""
        from countries.services import staff_scoped_app_register

        staff_scoped_app_register(self.label)
