from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TravelersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "travelers"
    verbose_name = _("Travelers")
