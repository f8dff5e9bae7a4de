from django.urls import path

from alerts.api import views

urlpatterns = [
    path("alerts/", views.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:alert_id>/", views.AlertDetailView.as_view(), name="alert-detail"),
    path("alerts/<int:alert_id>/reply/", views.AlertReplyView.as_view(), name="alert-reply"),
    path("me/alerts/", views.MyAlertListView.as_view(), name="my-alert-list"),
]
