from django.urls import path

from travelers.api.views.auth import LogoutView, OtpRequestView, TokenObtainView, TokenRefreshView
from travelers.api.views.devices import DeviceRegisterView, DeviceUnregisterView
from travelers.api.views.profile import MeExportView, MeView
from travelers.api.views.trips import TripDetailView, TripListCreateView

urlpatterns = [
    path("auth/otp/", OtpRequestView.as_view(), name="auth-otp"),
    path("auth/token/", TokenObtainView.as_view(), name="auth-token"),
    path("auth/refresh/", TokenRefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("me/", MeView.as_view(), name="me"),
    path("me/export/", MeExportView.as_view(), name="me-export"),
    path("trips/", TripListCreateView.as_view(), name="trip-list"),
    path("trips/<int:pk>/", TripDetailView.as_view(), name="trip-detail"),
    path("devices/", DeviceRegisterView.as_view(), name="device-register"),
    path("devices/unregister/", DeviceUnregisterView.as_view(), name="device-unregister"),
]
