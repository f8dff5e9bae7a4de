from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.views import healthz

api_v1 = [
    path("", include("countries.api.urls")),
    path("", include("travelers.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("callbacks.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

handler404 = "core.views.handler404"
handler500 = "core.views.handler500"

admin.site.site_header = _("Foreign Assistant — staff panel")
admin.site.site_title = _("Foreign Assistant")
admin.site.index_title = _("Consular staff panel")
